/* Cost per decision of facts through C callbacks, beside the world path (issue 22,
 * docs/design/fact-sources.md §7 "Cost"). One token pull (the request of
 * hosts/go/testdata/cabi_bench.c) decided two ways, in alternating rounds:
 *   world:     fa_decide over a world handle;
 *   callbacks: fa_decide_with, C callbacks answering from static JSON (no store I/O).
 * Each round times batches of 200 calls; printed: the median over rounds of each round's
 * median batch, in ns per call, and the ratio callbacks / world.
 *
 *   cargo build --release -p forge-authz-ffi
 *   cc -O2 -Iffi/include ffi/bench/callbacks_bench.c target/release/libforge_authz.a \
 *      -lpthread -ldl -lm -lrt -lutil -o target/callbacks_bench && target/callbacks_bench 2
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forge_authz.h"

#define CONFIG                                                                                       \
	"\"keys\":[{\"id\":\"k1\",\"secret\":\"07070707070707070707070707070707070707070707070707070707" \
	"07070707\"}],\"signing_key\":\"k1\""
#define NOW 1767225600

static const char *WORLD =
    "{\"now\":1767225600," CONFIG ",\"users\":[{\"name\":\"alice\"}],"
    "\"repositories\":[{\"owner\":\"alice\",\"name\":\"app\"}]}";

/* The callbacks' rows: the token record (set from fa_issue), alice, alice/app. */
static char record[2048];
static const char *ALICE = "{\"status\":\"active\",\"site_admin\":false,\"visibility\":\"public\",\"organization\":false}";
static const char *APP = "{\"owner_visibility\":\"public\",\"private\":false,\"kind\":\"hosted\",\"archived\":false,\"role\":\"none\"}";

#define CHECK(ok, what, text)                                                                        \
	do {                                                                                             \
		if (!(ok)) {                                                                                 \
			fprintf(stderr, "callbacks_bench: %s failed: %s\n", what, (text) ? (text) : "");        \
			return 1;                                                                                \
		}                                                                                            \
	} while (0)

static int32_t row(struct fa_answer *a, const char *json) {
	return fa_answer_set(a, json, strlen(json)) == FA_OK ? FA_FACT_FOUND : FA_FACT_FAILED;
}
static int32_t token_cb(void *u, const char *id, struct fa_answer *a) {
	(void)u, (void)id;
	return row(a, record);
}
static int32_t user_cb(void *u, const char *name, struct fa_answer *a) {
	(void)u;
	return strcmp(name, "alice") ? FA_FACT_ABSENT : row(a, ALICE);
}
static int32_t repo_cb(void *u, const char *path, const char *viewer, struct fa_answer *a) {
	(void)u, (void)viewer;
	return strcmp(path, "alice/app") ? FA_FACT_ABSENT : row(a, APP);
}
static int32_t ns_cb(void *u, const char *name, const char *viewer, struct fa_answer *a) {
	(void)u, (void)name, (void)viewer, (void)a;
	return FA_FACT_ABSENT;
}

static int64_t elapsed_ns(const struct timespec *since) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - since->tv_sec) * 1000000000 + (t.tv_nsec - since->tv_nsec);
}

static int by_value(const void *a, const void *b) {
	int64_t d = *(const int64_t *)a - *(const int64_t *)b;
	return d < 0 ? -1 : d > 0;
}

enum { CALLS = 200, ROUNDS = 11, MOST = 4096 };

struct bench {
	struct fa_policy *policy;
	struct fa_world *world;
	struct fa_fact_source facts;
	char request[512];
};

/* The median ns/call over `n` batches of `CALLS` calls of one path; -1 if a call did not allow. */
static int64_t round_of(const struct bench *b, int callbacks, size_t n) {
	static int64_t per[MOST];
	for (size_t i = 0; i < n; i++) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int c = 0; c < CALLS; c++) {
			char *out = NULL;
			int32_t code = callbacks ? fa_decide_with(b->policy, &b->facts, b->request, NOW, &out)
			                         : fa_decide(b->policy, b->world, b->request, &out);
			fa_string_free(out);
			if (code != FA_ALLOW) return -1;
		}
		per[i] = elapsed_ns(&t0) / CALLS;
	}
	qsort(per, n, sizeof per[0], by_value);
	return per[n / 2];
}

int main(int argc, char **argv) {
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	struct bench b = {.facts = {.version = FA_FACT_SOURCE_V1,
	                            .token_record = token_cb,
	                            .user_facts = user_cb,
	                            .repository_facts = repo_cb,
	                            .namespace_facts = ns_cb}};
	char *err = NULL, *out = NULL;
	CHECK(fa_policy_new(NULL, 0, "{" CONFIG "}", &b.policy, &err) == FA_OK, "fa_policy_new", err);
	CHECK(fa_world_new(WORLD, &b.world, &err) == FA_OK, "fa_world_new", err);
	CHECK(fa_issue(b.policy, b.world,
	               "{\"owner\":\"alice\",\"name\":\"ci\",\"scopes\":[\"read:repository\"],\"expires_in\":3600}",
	               &out) == FA_OK,
	      "fa_issue", out);
	/* fa_issue prints {"record":{…},"secret":"…"}: the record is the token row. */
	const char *rec = strstr(out, "{\"record\":"), *sec = strstr(out, ",\"secret\":\"");
	CHECK(rec && sec, "reading fa_issue's output", out);
	rec += strlen("{\"record\":");
	sec += strlen(",\"secret\":\"");
	snprintf(record, sizeof record, "%.*s", (int)(sec - strlen(",\"secret\":\"") - rec), rec);
	snprintf(b.request, sizeof b.request,
	         "{\"credential\":{\"bearer\":\"%.*s\"},\"repository\":\"alice/app\",\"action\":\"pull\"}",
	         (int)strcspn(sec, "\""), sec);
	fa_string_free(out);

	/* Both paths decide alike. */
	char *world_out = NULL, *callbacks_out = NULL;
	fa_decide(b.policy, b.world, b.request, &world_out);
	fa_decide_with(b.policy, &b.facts, b.request, NOW, &callbacks_out);
	CHECK(strcmp(world_out, callbacks_out) == 0, "the same decision both ways", callbacks_out);
	fa_string_free(world_out);
	fa_string_free(callbacks_out);

	int64_t medians[2][ROUNDS];
	round_of(&b, 0, 20);
	round_of(&b, 1, 20);
	int64_t probe = round_of(&b, 0, 3) + round_of(&b, 1, 3);
	size_t n = (size_t)(seconds * 1e9 / ((double)probe * CALLS * ROUNDS));
	n = n < 1 ? 1 : n > MOST ? MOST : n;
	for (int r = 0; r < ROUNDS; r++)
		for (int p = 0; p < 2; p++) {
			medians[p][r] = round_of(&b, p, n);
			CHECK(medians[p][r] > 0, p ? "fa_decide_with" : "fa_decide", "not an allow");
		}
	qsort(medians[0], ROUNDS, sizeof(int64_t), by_value);
	qsort(medians[1], ROUNDS, sizeof(int64_t), by_value);
	int64_t world = medians[0][ROUNDS / 2], callbacks = medians[1][ROUNDS / 2];
	printf("callbacks_bench: token pull, %d alternating rounds of %zu x %d calls: world (fa_decide) %lld ns, "
	       "callbacks (fa_decide_with) %lld ns, ratio %.2f\n",
	       ROUNDS, n, CALLS, (long long)world, (long long)callbacks, (double)callbacks / (double)world);
	fa_world_free(b.world);
	fa_policy_free(b.policy);
	return 0;
}
