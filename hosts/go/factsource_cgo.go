package forgeauthz

// The C side of the callback path: a struct fa_fact_source on the C stack pointing at the
// trampolines of factsource_export.go (cgo allows no C definitions in a file that has
// //export, hence two files). user_data is a cgo.Handle: no Go pointer crosses.

/*
#include <stdint.h>
#include <string.h>
#include "forge_authz.h"

// The exports take the handle as an integer (a Go frame must never hold it as a pointer:
// the runtime checks pointers when it moves a stack); these shims convert user_data.
extern int32_t faGoToken(uintptr_t, char *, struct fa_answer *);
extern int32_t faGoUser(uintptr_t, char *, struct fa_answer *);
extern int32_t faGoRepository(uintptr_t, char *, char *, struct fa_answer *);
extern int32_t faGoNamespace(uintptr_t, char *, char *, struct fa_answer *);
extern int32_t faGoSSHKey(uintptr_t, char *, struct fa_answer *);
extern int32_t faGoRepositories(uintptr_t, char *, char *, struct fa_answer *);
extern void faGoObserve(uintptr_t, char *);
extern void faGoEffects(uintptr_t, char *);

static int32_t fa_go_token(void *u, const char *id, struct fa_answer *a) {
	return faGoToken((uintptr_t)u, (char *)id, a);
}
static int32_t fa_go_user(void *u, const char *name, struct fa_answer *a) {
	return faGoUser((uintptr_t)u, (char *)name, a);
}
static int32_t fa_go_repository(void *u, const char *path, const char *viewer, struct fa_answer *a) {
	return faGoRepository((uintptr_t)u, (char *)path, (char *)viewer, a);
}
static int32_t fa_go_namespace(void *u, const char *name, const char *viewer, struct fa_answer *a) {
	return faGoNamespace((uintptr_t)u, (char *)name, (char *)viewer, a);
}
static int32_t fa_go_ssh_key(void *u, const char *id, struct fa_answer *a) {
	return faGoSSHKey((uintptr_t)u, (char *)id, a);
}
static int32_t fa_go_repositories(void *u, const char *paths, const char *viewer, struct fa_answer *a) {
	return faGoRepositories((uintptr_t)u, (char *)paths, (char *)viewer, a);
}
static void fa_go_observe(void *u, const char *asked) { faGoObserve((uintptr_t)u, (char *)asked); }
static void fa_go_effects(void *u, const char *effects) { faGoEffects((uintptr_t)u, (char *)effects); }

enum { FA_GO_SSH = 1, FA_GO_BATCH = 2, FA_GO_OBSERVE = 4, FA_GO_EFFECTS = 8 };

static int32_t fa_go_decide_with(const struct fa_policy *policy, uintptr_t handle,
                                 uint32_t budget_ms, int optional, const char *request,
                                 int64_t now, char **output) {
	struct fa_fact_source s;
	memset(&s, 0, sizeof s);
	s.version = FA_FACT_SOURCE_V1;
	s.budget_ms = budget_ms;
	s.user_data = (void *)handle;
	s.token_record = fa_go_token;
	s.user_facts = fa_go_user;
	s.repository_facts = fa_go_repository;
	s.namespace_facts = fa_go_namespace;
	if (optional & FA_GO_SSH) s.ssh_key = fa_go_ssh_key;
	if (optional & FA_GO_BATCH) s.repositories = fa_go_repositories;
	if (optional & FA_GO_OBSERVE) s.observe = fa_go_observe;
	if (optional & FA_GO_EFFECTS) s.effects = fa_go_effects;
	return fa_decide_with(policy, &s, request, now, output);
}
*/
import "C"

import (
	"context"
	"runtime"
	"time"
)

// factCall is one DecideWith call's state, reached from the trampolines through the
// handle in user_data (register, factcall.go).
type factCall struct {
	ctx    context.Context // &budget: the caller's, with the fact budget as its deadline
	budget budgetCtx
	parent context.Context // the caller's (the effects hook)
	src    FactSource
	buf    []byte // the answer being encoded, reused across the call's callbacks
	// scratch holds buf at first: a usual answer needs no allocation of its own.
	scratch [768]byte
	// failed is the first failure a trampoline reported (the decision must not allow).
	failed string
}

// decideWith calls fa_decide_with with src's answers (budget: p.FactBudget, also ctx's
// deadline for the methods).
func (p *Policy) decideWith(ctx context.Context, src FactSource, request cbuf) (RawDecision, error) {
	budget := p.factBudget()
	c := &factCall{parent: ctx, src: src}
	c.budget.Context, c.budget.deadline = ctx, time.Now().Add(budget)
	c.ctx = &c.budget
	defer c.budget.release()
	c.buf = c.scratch[:0]
	optional := C.int(0)
	if _, ok := src.(SSHKeySource); ok {
		optional |= C.FA_GO_SSH
	}
	if _, ok := src.(BatchSource); ok {
		optional |= C.FA_GO_BATCH
	}
	if _, ok := src.(QueryObserver); ok {
		optional |= C.FA_GO_OBSERVE
	}
	if _, ok := src.(EffectsSink); ok {
		optional |= C.FA_GO_EFFECTS
	}
	now := C.int64_t(C.FA_NOW_SYSTEM)
	if clock, ok := src.(Clock); ok {
		if n := clock.Now(); n != 0 {
			now = C.int64_t(n)
		}
	}
	ms := budget / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	if ms > 1<<31 {
		ms = 1 << 31
	}
	h := register(c)
	defer unregister(h)
	code, out, err := locked("decide", p, nil, false, func(pp *C.struct_fa_policy, _ *C.struct_fa_world, out **C.char) C.int32_t {
		return C.fa_go_decide_with(pp, C.uintptr_t(h), C.uint32_t(ms), optional, request.ptr(), now, out)
	})
	runtime.KeepAlive(request)
	raw, err := rawDecision(code, out, err)
	if err == nil && c.failed != "" && raw.code == codeAllow {
		// A callback failed, yet the library allowed: never trusted.
		return RawDecision{}, &Error{Op: "decide", Code: raw.code, Message: "allowed after a failed fact callback: " + c.failed}
	}
	return raw, err
}

// DecideWith is Decide with the facts from src, asked through callbacks during the call
// (once per decision): no World. A callback's failure (error, panic, over FactBudget,
// an answer that does not fit) gives the policy-failure Decision (503, the cause in
// Detail), never an error and never an allow; "not found" answers decide as a missing fact
// does in a World (401, 404). An error is what Decide's errors are (nothing was decided).
func (p *Policy) DecideWith(ctx context.Context, src FactSource, req Request) (Decision, error) {
	if src == nil {
		return Decision{}, &Error{Op: "decide", Message: "nil fact source"}
	}
	return p.decideOne(ctx, via{src: src}, req)
}

// DecideBatchWith is DecideBatch with the facts from src (see DecideWith and BatchSource).
func (p *Policy) DecideBatchWith(ctx context.Context, src FactSource, req Request) ([]Decision, error) {
	if src == nil {
		return nil, &Error{Op: "decide", Message: "nil fact source"}
	}
	return p.decideBatch(ctx, via{src: src}, req, "DecideBatchWith")
}

// RefPermissionsWith is RefPermissions with the facts from src (see DecideWith); a failed
// callback gives no permission.
func (p *Policy) RefPermissionsWith(ctx context.Context, src FactSource, req Request) (map[string]RefPermissions, error) {
	if src == nil {
		return nil, &Error{Op: "decide", Message: "nil fact source"}
	}
	return p.refPermissions(ctx, via{src: src}, req, "RefPermissionsWith")
}

// DecideJSONWith is DecideJSON with the facts from src (see DecideWith).
func (p *Policy) DecideJSONWith(ctx context.Context, src FactSource, request []byte) (RawDecision, error) {
	if src == nil {
		return RawDecision{}, &Error{Op: "decide", Message: "nil fact source"}
	}
	return p.decideJSON(ctx, via{src: src}, request)
}
