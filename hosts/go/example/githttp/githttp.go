// Package githttp is an example net/http middleware that guards git's smart-HTTP
// endpoints with the forge-authz policy: it takes the credential from the Authorization
// header (Bearer, or Basic with the token as the password, as git sends it), the
// repository and the action from the path, asks the policy, and maps the decision to the
// response git expects (401 with WWW-Authenticate so that git prompts, 403, 404, 400, 503).
//
//	authz := &githttp.Authorizer{Policy: policy, Facts: facts}
//	http.Handle("/", authz.Middleware(gitHandler))
//
// Pushes are decided as a whole here: the ref updates travel in the receive-pack body,
// so protected refs are checked per ref by the forge's hooks (Request.Refs), as the
// forward-auth mode of `forge-authz serve` does.
package githttp

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"forgeauthz"
)

// Query is what the middleware needs facts about.
type Query struct {
	// Repository is the path's `owner/name` (a trailing `.git` kept: the policy drops it).
	Repository string
	// Action is pull (upload-pack) or push (receive-pack).
	Action forgeauthz.Action
	// TokenID is the id of the genuine token the credential carries ("" if none): look its
	// record up and put it in the world.
	TokenID string
	// Credential is the request's credential (for a forge that resolves sessions itself).
	Credential forgeauthz.Credential
}

// Authorizer guards git smart HTTP.
type Authorizer struct {
	// Policy decides.
	Policy *forgeauthz.Policy
	// Facts returns the world of one request: the repository (and its owner), the record
	// of Query.TokenID and its owner. done, if not nil, is called once the decision is
	// made (a per-request world is closed there; a shared one is not). An error is a 503.
	Facts func(ctx context.Context, q Query) (w *forgeauthz.World, done func(), err error)
	// Realm is the WWW-Authenticate realm (default "forge").
	Realm string
	// Log, if set, sees every decision (err: nothing was decided).
	Log func(r *http.Request, d forgeauthz.Decision, err error)
}

type ctxKey struct{}

// DecisionFrom returns the decision that let the request through.
func DecisionFrom(ctx context.Context) (forgeauthz.Decision, bool) {
	d, ok := ctx.Value(ctxKey{}).(forgeauthz.Decision)
	return d, ok
}

// route finds the repository and the action of a smart-HTTP request: GET
// /{owner}/{name}[.git]/info/refs?service=git-upload-pack|git-receive-pack, POST
// …/git-upload-pack, POST …/git-receive-pack. ok false: not a git route.
func route(r *http.Request) (repo string, action forgeauthz.Action, method string, ok bool) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/info/refs"):
		repo, method = strings.TrimSuffix(p, "/info/refs"), http.MethodGet
		switch r.URL.Query().Get("service") {
		case "git-receive-pack":
			action = forgeauthz.Push
		case "git-upload-pack", "": // "": the dumb protocol reads
			action = forgeauthz.Pull
		default:
			return "", "", "", false
		}
	case strings.HasSuffix(p, "/git-upload-pack"):
		repo, action, method = strings.TrimSuffix(p, "/git-upload-pack"), forgeauthz.Pull, http.MethodPost
	case strings.HasSuffix(p, "/git-receive-pack"):
		repo, action, method = strings.TrimSuffix(p, "/git-receive-pack"), forgeauthz.Push, http.MethodPost
	default:
		return "", "", "", false
	}
	return repo, action, method, true
}

// credential reads the Authorization header: none is anonymous; Bearer; Basic (the
// token as the password, any username the policy accepts). ok false: malformed.
func credential(r *http.Request) (forgeauthz.Credential, bool) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return forgeauthz.Anonymous(), true
	}
	if len(h) > 1 {
		return forgeauthz.Credential{}, false
	}
	scheme, value, found := strings.Cut(h[0], " ")
	value = strings.TrimSpace(value)
	if !found || value == "" {
		return forgeauthz.Credential{}, false
	}
	switch strings.ToLower(scheme) {
	case "bearer":
		return forgeauthz.Bearer(value), true
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return forgeauthz.Credential{}, false
		}
		user, pass, found := strings.Cut(string(raw), ":")
		if !found {
			return forgeauthz.Credential{}, false
		}
		return forgeauthz.Basic(user, pass), true
	}
	return forgeauthz.Credential{}, false
}

// Middleware lets through only the requests the policy allows.
func (a *Authorizer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, action, method, ok := route(r)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != method {
			w.Header().Set("Allow", method)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		cred, ok := credential(r)
		if !ok {
			a.refuse(w, http.StatusBadRequest, "request-invalid", "malformed Authorization header")
			return
		}
		d, err := a.decide(r.Context(), cred, repo, action)
		if a.Log != nil {
			a.Log(r, d, err)
		}
		switch {
		case err != nil:
			// Nothing was decided (facts unavailable, the policy refused to read the
			// request): fail closed.
			a.refuse(w, forgeauthz.PolicyFailureStatus, forgeauthz.PolicyFailureCode, forgeauthz.PolicyFailureMessage)
		case d.Allowed():
			w.Header().Set("X-Forge-Authz-Reason", d.Reason)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
		default:
			status := d.Status
			switch status {
			case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusServiceUnavailable:
			default:
				status = http.StatusForbidden // a deny is never a success
			}
			a.refuse(w, status, d.Reason, d.Message)
		}
	})
}

func (a *Authorizer) decide(ctx context.Context, cred forgeauthz.Credential, repo string, action forgeauthz.Action) (forgeauthz.Decision, error) {
	q := Query{Repository: repo, Action: action, Credential: cred}
	if !cred.IsAnonymous() {
		v, err := a.Policy.Verify(ctx, cred)
		if err != nil {
			return forgeauthz.Decision{}, err
		}
		if v.Genuine() {
			q.TokenID = v.TokenID
		}
	}
	world, done, err := a.Facts(ctx, q)
	if err != nil {
		return forgeauthz.Decision{}, err
	}
	if done != nil {
		defer done()
	}
	return a.Policy.Decide(ctx, world, forgeauthz.Request{Credential: cred, Repository: repo, Action: action})
}

func (a *Authorizer) refuse(w http.ResponseWriter, status int, reason, message string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Forge-Authz-Reason", reason)
	if status == http.StatusUnauthorized {
		realm := a.Realm
		if realm == "" {
			realm = "forge"
		}
		realm = strings.NewReplacer(`"`, "", `\`, "").Replace(realm)
		// Basic first: git prompts for a username and password (the token).
		h.Add("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
		h.Add("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	}
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	if message == "" {
		message = http.StatusText(status)
	}
	http.Error(w, message, status)
}
