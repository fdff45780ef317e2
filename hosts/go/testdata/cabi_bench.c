/* The C ABI's own cost for the token pull of BenchmarkDecideTokenPull (no Go, no cgo):
 * fa_decide from request JSON to decision JSON, warm, median of batches of 200 calls.
 * The yardstick the Go host's figure is compared with (hosts/go/README.md). Built and run
 * by `bash hosts/go/ci.sh` with FORGE_AUTHZ_PROFILE=release:
 *
 *   cc -O2 -Iffi/include hosts/go/testdata/cabi_bench.c target/release/libforge_authz.a \
 *      -lpthread -ldl -lm -lrt -lutil -o target/go-host/cabi_bench && target/go-host/cabi_bench 2
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forge_authz.h"

static const char *KEYS =
    "\"keys\":[{\"id\":\"k1\",\"secret\":"
    "\"0707070707070707070707070707070707070707070707070707070707070707\"}],\"signing_key\":\"k1\"";

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what, char *err) {
	fprintf(stderr, "cabi_bench: %s: %s\n", what, err ? err : "?");
	exit(1);
}

int main(int argc, char **argv) {
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	char config[512], world_json[1024], request[512], *err = NULL, *out = NULL;
	snprintf(config, sizeof config, "{%s}", KEYS);
	snprintf(world_json, sizeof world_json,
	         "{\"now\":1767225600,%s,"
	         "\"users\":[{\"name\":\"alice\",\"status\":\"active\",\"site_admin\":false,\"visibility\":\"public\"}],"
	         "\"repositories\":[{\"owner\":\"alice\",\"name\":\"app\",\"private\":false,\"kind\":\"hosted\","
	         "\"archived\":false,\"collaborators\":{}}]}",
	         KEYS);
	struct fa_policy *policy;
	struct fa_world *world;
	if (fa_policy_new(NULL, 0, config, &policy, &err) != FA_OK) die("fa_policy_new", err);
	if (fa_world_new(world_json, &world, &err) != FA_OK) die("fa_world_new", err);
	if (fa_issue(policy, world,
	             "{\"owner\":\"alice\",\"name\":\"bench\",\"scopes\":[\"read:repository\"],\"expires_in\":86400}",
	             &out) != FA_OK)
		die("fa_issue", out);
	/* {"secret":"fzpat_…", …}: the secret is the first string value. */
	char *s = strstr(out, "\"secret\":\"");
	if (!s) die("fa_issue output", out);
	s += strlen("\"secret\":\"");
	char *e = strchr(s, '"');
	if (!e) die("fa_issue output", out);
	snprintf(request, sizeof request,
	         "{\"credential\":{\"bearer\":\"%.*s\"},\"repository\":\"alice/app\",\"action\":\"pull\"}", (int)(e - s), s);
	fa_string_free(out);

	enum { BATCH = 200, MAX_BATCHES = 1 << 20 };
	double *per = malloc(sizeof(double) * MAX_BATCHES);
	size_t n = 0;
	double start = now_ns(), end = start + seconds * 1e9;
	for (int warm = 0; warm < 1000; warm++) {
		if (fa_decide(policy, world, request, &out) != FA_ALLOW) die("fa_decide (warm-up)", out);
		fa_string_free(out);
	}
	while (n < MAX_BATCHES && now_ns() < end) {
		double t0 = now_ns();
		for (int i = 0; i < BATCH; i++) {
			if (fa_decide(policy, world, request, &out) != FA_ALLOW) die("fa_decide", out);
			fa_string_free(out);
		}
		per[n++] = (now_ns() - t0) / BATCH;
	}
	qsort(per, n, sizeof(double), cmp);
	char *sha = fa_policy_sha256(policy);
	printf("cabi_bench: fa_decide token pull: median %.0f ns/call (%zu calls, module %s)\n", per[n / 2],
	       n * BATCH, sha ? sha : "?");
	fa_string_free(sha);
	fa_world_free(world);
	fa_policy_free(policy);
	free(per);
	return 0;
}
