// Package forgeauthz runs the forge-authz policy (one WebAssembly component) from Go,
// through the library's C ABI (ffi/include/forge_authz.h) and cgo.
//
// A forge loads the policy once and asks for a decision per request; the policy asks the
// forge's own store, through a FactSource, for exactly the facts of that decision (the
// token record, the account, the repository as the viewer sees it…):
//
//	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{
//		Keys:       []forgeauthz.Key{{ID: "k1", Secret: key}},
//		SigningKey: "k1",
//	})
//	d, err := policy.DecideWith(ctx, store, forgeauthz.Request{
//		Credential: forgeauthz.Bearer(token),
//		Repository: "alice/app",
//		Action:     forgeauthz.Pull,
//	})
//	if err != nil || !d.Allowed() {
//		// refuse: d.Status, d.Reason, d.Message (err: nothing was decided)
//	}
//
// A World (NewWorldFrom: users, repositories, token records… in the world fixture's
// format) is the simple path for tests and fixtures: Decide(ctx, world, req).
//
// Errors are never an allow: only a decision the library returned FA_ALLOW for reports
// Allowed() true; every failure is an error (an *Error), and a policy that could not
// decide (trap, deadline) is a deny with status 503 and reason "policy-failure".
//
// Policies are safe for concurrent use by many goroutines (the library keeps a pool of
// warm instances). A World may be read by many decisions at once; PutToken and Issue,
// which write it, wait for the decisions in progress (this package orders them with a
// lock, as the C ABI requires).
//
// Handles hold memory outside Go: Close them when done. A finalizer frees a handle that
// was dropped without Close, as a safety net only.
package forgeauthz

/*
#cgo CFLAGS: -I${SRCDIR}/../../ffi/include
#include <stdlib.h>
#include <string.h>
#include "forge_authz.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// The C ABI's return codes.
const (
	codeAllow = int(C.FA_ALLOW) // allowed (fa_decide); success (the others)
	codeOK    = int(C.FA_OK)
	codeDeny  = int(C.FA_DENY)  // refused; the output says why
	codeError = int(C.FA_ERROR) // nothing was decided or done
)

// ContractVersion is the WIT contract version the linked library speaks ("0.6.0").
func ContractVersion() string {
	return C.GoString(C.fa_contract_version())
}

// Config configures a policy: the token keys (the secrets, 32 bytes or more) and the id of
// the one that signs new tokens, and the policy options. It is the world fixture's
// "keys", "signing_key" and "options".
type Config struct {
	Keys       []Key    `json:"keys"`
	SigningKey string   `json:"signing_key"`
	Options    *Options `json:"options,omitempty"`
	// Trust says which module bytes may serve (trust.go). Nil: no key is trusted and
	// unsigned bytes are refused, so only the module built into the library can serve.
	Trust *Trust `json:"trust,omitempty"`
}

// Policy is a loaded, checked policy module with its configuration: a handle on the
// library's policy (fa_policy). It is safe for concurrent use.
type Policy struct {
	// FactBudget is the wall time all fact-source callbacks of one decision may take
	// (DecideWith; 0: DefaultFactBudget). Set it before the policy serves.
	FactBudget time.Duration

	mu sync.RWMutex // read: a call in progress; write: Close
	p  *C.struct_fa_policy
}

// World holds the facts decisions are made from (fa_world): a world in the fixture
// format. Decisions read it concurrently; PutToken and Issue write it exclusively.
type World struct {
	mu sync.RWMutex // read: a decision or Verify; write: PutToken, Issue, Close
	w  *C.struct_fa_world
}

// LoadPolicy loads a policy module (the component's .wasm bytes; nil: the module embedded
// in the library, trusted as built) and configures it. The module is checked as a server
// checks it before serving: it loads, accepts the keys, gives the known answers. Module
// bytes need a signature (LoadPolicySigned): here they are refused ("unsigned") unless
// config.Trust.AllowUnsigned.
func LoadPolicy(module []byte, config Config) (*Policy, error) {
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, &Error{Op: "load", Message: "encoding the configuration", Err: err}
	}
	return LoadPolicyJSON(module, cfg)
}

// LoadPolicyJSON is LoadPolicy with the configuration as JSON: {"keys": [...],
// "signing_key": ..., "options": {...}}; other fields are ignored, so a whole world
// fixture may be passed.
func LoadPolicyJSON(module []byte, config []byte) (*Policy, error) {
	return LoadPolicySignedJSON(module, nil, config)
}

// Swap publishes another module version (nil: the embedded one) at run time. It is
// checked exactly as LoadPolicy checks it, against this policy's configuration, first; a
// refused module leaves the current one serving. Decisions in progress finish on the old
// version; every later one uses the new one. Module bytes need a signature (SwapSigned):
// here they are refused ("unsigned") unless the policy's Trust.AllowUnsigned.
func (p *Policy) Swap(module []byte) error {
	return p.SwapSigned(module, nil)
}

// SHA256 is the hex SHA-256 of the module the policy runs now ("" once closed).
func (p *Policy) SHA256() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.p == nil {
		return ""
	}
	s := C.fa_policy_sha256(p.p)
	if s == nil {
		return ""
	}
	defer C.fa_string_free(s)
	return C.GoString(s)
}

// Close frees the policy. Calls in progress finish first; later calls return an error
// (ErrClosed). Closing twice is harmless.
func (p *Policy) Close() {
	closeHandle(&p.mu, &p.p, p, func(h *C.struct_fa_policy) { C.fa_policy_free(h) })
}

// NewWorld loads facts from a world in the fixture format (README, "World fixture").
// Its "now", if present, is the clock of every decision made with it; without it, the
// system clock. Its keys are not used for decisions (the policy's configuration is).
func NewWorld(world []byte) (*World, error) {
	text, err := cString("world", world)
	if err != nil {
		return nil, err
	}
	w, err := open("world", func(out **C.struct_fa_world, cerr **C.char) C.int32_t {
		return C.fa_world_new(text.ptr(), out, cerr)
	}, func(h *C.struct_fa_world) *World { return &World{w: h} }, (*World).Close)
	runtime.KeepAlive(text)
	return w, err
}

// NewWorldFrom loads typed facts.
func NewWorldFrom(facts *Facts) (*World, error) {
	if facts == nil {
		facts = &Facts{}
	}
	b, err := json.Marshal(facts)
	if err != nil {
		return nil, &Error{Op: "world", Message: "encoding the facts", Err: err}
	}
	return NewWorld(b)
}

// PutToken adds a token record to the world, or replaces the one with its id. It waits
// for the decisions reading the world.
func (w *World) PutToken(record TokenRecord) error {
	b, err := json.Marshal(record)
	if err != nil {
		return &Error{Op: "put-token", Message: "encoding the record", Err: err}
	}
	return w.PutTokenJSON(b)
}

// PutTokenJSON is PutToken with the record as JSON (as Issue returns it, or as the fixture
// lists it).
func (w *World) PutTokenJSON(record []byte) error {
	text, err := cString("put-token", record)
	if err != nil {
		return err
	}
	_, err = lockedOK("put-token", nil, w, true, func(_ *C.struct_fa_policy, ww *C.struct_fa_world, cerr **C.char) C.int32_t {
		return C.fa_world_put_token(ww, text.ptr(), cerr)
	})
	runtime.KeepAlive(text)
	return err
}

// Close frees the world, after the decisions reading it. Closing twice is harmless.
func (w *World) Close() {
	closeHandle(&w.mu, &w.w, w, func(h *C.struct_fa_world) { C.fa_world_free(h) })
}

// open makes a library handle with call (fa_policy_new, fa_world_new; op names the
// operation in an error) and wraps it (wrap), with finalize as the wrapper's finalizer: the
// safety net for a handle dropped without Close.
func open[H, T any](op string, call func(out **H, cerr **C.char) C.int32_t, wrap func(*H) *T, finalize func(*T)) (*T, error) {
	var out *H
	var cerr *C.char
	if code := int(call(&out, &cerr)); code != codeOK || out == nil {
		return nil, libError(op, code, cerr)
	}
	t := wrap(out)
	runtime.SetFinalizer(t, finalize)
	return t, nil
}

// closeHandle frees the handle *h of owner (a *Policy or *World) once, after the calls
// holding mu (see locked), which later calls find nil (ErrClosed); owner's finalizer goes
// with it.
func closeHandle[H any](mu *sync.RWMutex, h **H, owner any, free func(*H)) {
	mu.Lock()
	defer mu.Unlock()
	if *h != nil {
		free(*h)
		*h = nil
		runtime.SetFinalizer(owner, nil)
	}
}

// RawDecision is a decision as the library printed it (`forge-authz decide`'s output: an
// object, a list for a batch, a ref → permissions map for ref permissions).
type RawDecision struct {
	// JSON is the decision.
	JSON json.RawMessage
	code int
}

// Allowed reports whether the library allowed the request (FA_ALLOW): for a batch, some
// repository; for ref permissions, some permission. The zero value is not allowed.
func (r RawDecision) Allowed() bool { return r.JSON != nil && r.code == codeAllow }

// DecideJSON decides a request given as JSON in the format of `forge-authz decide`
// ({"credential": {"bearer": "fzpat_…"}, "repository": "alice/app", "action": "pull"}; any
// kind). A request that could not be read is an error, never a decision.
func (p *Policy) DecideJSON(ctx context.Context, w *World, request []byte) (RawDecision, error) {
	return p.decideJSON(ctx, via{w: w}, request)
}

func (p *Policy) decideJSON(ctx context.Context, f via, request []byte) (RawDecision, error) {
	if err := ctx.Err(); err != nil {
		return RawDecision{}, &Error{Op: "decide", Message: "not called", Err: err}
	}
	text, err := cString("decide", request)
	if err != nil {
		return RawDecision{}, err
	}
	return p.run(ctx, f, text)
}

// via is where a decision's facts come from: a World, or a FactSource (src not nil)
// called back through the C ABI.
type via struct {
	w   *World
	src FactSource
}

// run decides a NUL-terminated request from the facts.
func (p *Policy) run(ctx context.Context, f via, request cbuf) (RawDecision, error) {
	if f.src != nil {
		return p.decideWith(ctx, f.src, request)
	}
	return p.decide(f.w, request)
}

// decide calls fa_decide with a NUL-terminated request.
func (p *Policy) decide(w *World, request cbuf) (RawDecision, error) {
	return rawDecision(withWorld("decide", p, w, request, false))
}

// rawDecision is the decision of a call to fa_decide or fa_decide_with: its output for
// FA_ALLOW and FA_DENY, an error otherwise.
func rawDecision(code int, out *C.char, err error) (RawDecision, error) {
	if err != nil {
		return RawDecision{}, err
	}
	switch code {
	case codeAllow, codeDeny:
		if out == nil {
			return RawDecision{}, &Error{Op: "decide", Code: code, Message: "no output from the library"}
		}
		return RawDecision{JSON: takeBytes(out), code: code}, nil
	default:
		return RawDecision{}, libError("decide", code, out)
	}
}

// Decide decides a git, create or api request (Request.Kind; "" is git). Batches and ref
// permissions have their own methods (DecideBatch, RefPermissions). The context is checked
// before calling in: a call takes microseconds and is not interrupted.
func (p *Policy) Decide(ctx context.Context, w *World, req Request) (Decision, error) {
	return p.decideOne(ctx, via{w: w}, req)
}

func (p *Policy) decideOne(ctx context.Context, f via, req Request) (Decision, error) {
	switch req.Kind {
	case "", KindGit, KindCreate, KindAPI:
	default:
		return Decision{}, &Error{Op: "decide", Message: "kind " + string(req.Kind) + " is decided by DecideBatch or RefPermissions"}
	}
	raw, err := p.decideTyped(ctx, f, &req)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	if err := decodeDecision(raw.JSON, &d); err != nil {
		return Decision{}, &Error{Op: "decide", Message: "unreadable decision", Err: err}
	}
	if err := d.seal(raw.code); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// DecideBatch decides one git action of one credential against many repositories
// (Request.Repositories; Kind "" or KindBatch): each gets exactly the decision a single
// request would, with its Repository set, in order.
func (p *Policy) DecideBatch(ctx context.Context, w *World, req Request) ([]Decision, error) {
	return p.decideBatch(ctx, via{w: w}, req, "DecideBatch")
}

func (p *Policy) decideBatch(ctx context.Context, f via, req Request, method string) ([]Decision, error) {
	raw, err := p.decideAs(ctx, f, req, KindBatch, method)
	if err != nil {
		return nil, err
	}
	var list []Decision
	if err := json.Unmarshal(raw.JSON, &list); err != nil {
		return nil, &Error{Op: "decide", Message: "unreadable batch decision", Err: err}
	}
	for i := range list {
		if err := list[i].seal(raw.code); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// RefPermissions answers, for each of Request.RefNames, what a push by the credential may
// do to it (Launchpad's checkRefPermissions; Kind "" or KindRefPermissions).
func (p *Policy) RefPermissions(ctx context.Context, w *World, req Request) (map[string]RefPermissions, error) {
	return p.refPermissions(ctx, via{w: w}, req, "RefPermissions")
}

func (p *Policy) refPermissions(ctx context.Context, f via, req Request, method string) (map[string]RefPermissions, error) {
	raw, err := p.decideAs(ctx, f, req, KindRefPermissions, method)
	if err != nil {
		return nil, err
	}
	perms := map[string]RefPermissions{}
	if err := json.Unmarshal(raw.JSON, &perms); err != nil {
		return nil, &Error{Op: "decide", Message: "unreadable ref permissions", Err: err}
	}
	if raw.code != codeAllow {
		// The library found no permission: none is reported, whatever the output says.
		for name, rp := range perms {
			if rp != (RefPermissions{}) {
				return nil, &Error{Op: "decide", Code: raw.code, Message: "ref " + name + ": permissions without FA_ALLOW"}
			}
		}
	}
	return perms, nil
}

func (p *Policy) decideTyped(ctx context.Context, f via, req *Request) (RawDecision, error) {
	if err := ctx.Err(); err != nil {
		return RawDecision{}, &Error{Op: "decide", Message: "not called", Err: err}
	}
	return p.run(ctx, f, terminated(req.appendJSON(make([]byte, 0, 512))))
}

// decideAs decides a request of the kind a method decides (method, its name in the error):
// Kind "" is that kind; another kind is the caller's mistake, nothing is decided.
func (p *Policy) decideAs(ctx context.Context, f via, req Request, kind Kind, method string) (RawDecision, error) {
	switch req.Kind {
	case "":
		req.Kind = kind
	case kind:
	default:
		return RawDecision{}, &Error{Op: "decide", Message: method + " needs kind " + string(kind) + ", not " + string(req.Kind)}
	}
	return p.decideTyped(ctx, f, &req)
}

// locked makes one library call holding the handles it uses, as the C ABI requires: the
// policy (nil: none) for reading, so that Close waits for the call; the world (nil: none)
// for reading, or for writing when the call changes it (writesWorld). A closed handle is
// ErrClosed and nothing is called; otherwise call gets the live handles and the output
// pointer, and its code and output are returned. The locks are released on return.
func locked(op string, p *Policy, w *World, writesWorld bool,
	call func(*C.struct_fa_policy, *C.struct_fa_world, **C.char) C.int32_t) (int, *C.char, error) {
	var pp *C.struct_fa_policy
	if p != nil {
		p.mu.RLock()
		defer p.mu.RUnlock()
		if pp = p.p; pp == nil {
			return 0, nil, closedError(op)
		}
	}
	var ww *C.struct_fa_world
	if w != nil {
		if writesWorld {
			w.mu.Lock()
			defer w.mu.Unlock()
		} else {
			w.mu.RLock()
			defer w.mu.RUnlock()
		}
		if ww = w.w; ww == nil {
			return 0, nil, closedError(op)
		}
	}
	var out *C.char
	code := int(call(pp, ww, &out))
	return code, out, nil
}

// lockedOK is locked for a call that succeeds with FA_OK: its output (nil: none), or the
// error (the library's, or ErrClosed).
func lockedOK(op string, p *Policy, w *World, writesWorld bool,
	call func(*C.struct_fa_policy, *C.struct_fa_world, **C.char) C.int32_t) (*C.char, error) {
	code, out, err := locked(op, p, w, writesWorld, call)
	if err == nil && code != codeOK {
		return nil, libError(op, code, out)
	}
	return out, err
}

// withWorld makes a call on a policy and a world with a JSON argument: fa_issue when it
// issues (and writes the world), fa_decide otherwise. Its code and output, or the error
// that stopped it first (a nil world, a closed handle).
func withWorld(op string, p *Policy, w *World, arg cbuf, issues bool) (int, *C.char, error) {
	if w == nil {
		return 0, nil, &Error{Op: op, Message: "nil world"}
	}
	code, out, err := locked(op, p, w, issues, func(pp *C.struct_fa_policy, ww *C.struct_fa_world, out **C.char) C.int32_t {
		if issues {
			return C.fa_issue(pp, ww, arg.ptr(), out)
		}
		return C.fa_decide(pp, ww, arg.ptr(), out)
	})
	runtime.KeepAlive(arg)
	return code, out, err
}

// Verification is what Verify found in a credential.
type Verification struct {
	// TokenID and KeyID name a genuine token (format, checksum, key and signature good).
	TokenID string `json:"token_id,omitempty"`
	KeyID   string `json:"key_id,omitempty"`
	// TokenError is the token-error code of a refused token ("bad-checksum",
	// "bad-signature", "unknown-key", …).
	TokenError string `json:"token_error,omitempty"`
}

// HasToken reports whether the credential carried a token (genuine or not).
func (v Verification) HasToken() bool { return v.TokenID != "" || v.TokenError != "" }

// Genuine reports whether the credential carried a genuine token.
func (v Verification) Genuine() bool { return v.TokenID != "" && v.TokenError == "" }

// Verify checks the token in a credential without any facts (format, checksum, key,
// signature): for logs, rate limits, or a forge's own token pages. A decision needs no
// such step (DecideWith asks the forge for the token's record itself). A credential
// without a token gives the zero Verification. Verify decides nothing: a genuine token may
// still be unknown, revoked or expired.
func (p *Policy) Verify(ctx context.Context, cred Credential) (Verification, error) {
	if err := ctx.Err(); err != nil {
		return Verification{}, &Error{Op: "verify", Message: "not called", Err: err}
	}
	text := terminated(cred.appendJSON(make([]byte, 0, 256)))
	out, err := lockedOK("verify", p, nil, false, func(pp *C.struct_fa_policy, _ *C.struct_fa_world, out **C.char) C.int32_t {
		return C.fa_verify(pp, text.ptr(), out)
	})
	runtime.KeepAlive(text)
	if err != nil {
		return Verification{}, err
	}
	var v *Verification
	if err := json.Unmarshal(takeBytes(out), &v); err != nil {
		return Verification{}, &Error{Op: "verify", Message: "unreadable answer", Err: err}
	}
	if v == nil { // null: no token
		return Verification{}, nil
	}
	return *v, nil
}

// Mint is what Issue mints (times in Unix seconds).
type Mint struct {
	Owner        string   `json:"owner"`
	Name         string   `json:"name"`
	Scopes       []string `json:"scopes"`
	Repositories []string `json:"repositories,omitempty"`
	Owners       []string `json:"owners,omitempty"`
	// Expires is the expiry time; ExpiresIn, seconds from now. Neither: no expiry (refused
	// when the policy requires one, the default).
	Expires   int64 `json:"expires,omitempty"`
	ExpiresIn int64 `json:"expires_in,omitempty"`
	// Now is the current time; 0: the world's clock.
	Now int64 `json:"now,omitempty"`
}

// Issued is a minted token.
type Issued struct {
	// Secret is the token: show it once, never store it.
	Secret string `json:"secret"`
	// Record is what to store (it holds the token's HMAC tag, never the secret); it has
	// been added to the world.
	Record TokenRecord `json:"record"`
	// RecordJSON is the record exactly as the library wrote it.
	RecordJSON json.RawMessage `json:"-"`
}

// String keeps the secret out of logs.
func (i Issued) String() string { return "token " + i.Record.ID + " (secret redacted)" }

// Issue mints a token as its owner's session would (the owner must be an active user of
// the world; bound repositories are checked against what the owner sees) and adds its
// record to the world. A minting rule's refusal is an *Error wrapping ErrRefused.
func (p *Policy) Issue(ctx context.Context, w *World, m Mint) (Issued, error) {
	if err := ctx.Err(); err != nil {
		return Issued{}, &Error{Op: "issue", Message: "not called", Err: err}
	}
	if m.Scopes == nil {
		m.Scopes = []string{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Issued{}, &Error{Op: "issue", Message: "encoding the mint request", Err: err}
	}
	code, out, err := withWorld("issue", p, w, terminated(b), true)
	if err != nil {
		return Issued{}, err
	}
	switch code {
	case codeOK:
		var raw struct {
			Secret string          `json:"secret"`
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal(takeBytes(out), &raw); err != nil {
			return Issued{}, &Error{Op: "issue", Message: "unreadable answer", Err: err}
		}
		is := Issued{Secret: raw.Secret, RecordJSON: raw.Record}
		if err := json.Unmarshal(raw.Record, &is.Record); err != nil {
			return Issued{}, &Error{Op: "issue", Message: "unreadable record", Err: err}
		}
		return is, nil
	case codeDeny:
		var refused struct {
			Refused string `json:"refused"`
		}
		msg := "refused"
		if out != nil {
			if json.Unmarshal(takeBytes(out), &refused) == nil && refused.Refused != "" {
				msg = refused.Refused
			}
		}
		return Issued{}, &Error{Op: "issue", Code: code, Message: msg, Err: ErrRefused}
	default:
		return Issued{}, libError("issue", code, out)
	}
}

// modulePtr is the C pointer to a module's bytes; NULL for nil (the embedded module).
func modulePtr(module []byte) *C.uint8_t {
	if len(module) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&module[0]))
}

// cbuf is a NUL-terminated string in Go memory, borrowed by one call (cgo allows passing
// it: it holds no Go pointers).
type cbuf []byte

func (b cbuf) ptr() *C.char { return (*C.char)(unsafe.Pointer(&b[0])) }

// cString copies caller-supplied JSON into a NUL-terminated buffer (never writing into
// the caller's slice). A NUL inside would end the string early, so that the library would
// read a prefix of what the caller wrote (which may be valid JSON that means something
// else): refused.
func cString(op string, b []byte) (cbuf, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, &Error{Op: op, Message: "the JSON contains a NUL byte"}
	}
	buf := make([]byte, len(b)+1)
	copy(buf, b)
	return buf, nil
}

// terminated NUL-terminates JSON this package encoded (encoding/json never writes a NUL).
func terminated(b []byte) cbuf { return append(b, 0) }

// takeBytes copies a string the library returned and frees it.
func takeBytes(s *C.char) []byte {
	if s == nil {
		return nil
	}
	defer C.fa_string_free(s)
	return C.GoBytes(unsafe.Pointer(s), C.int(C.strlen(s)))
}
