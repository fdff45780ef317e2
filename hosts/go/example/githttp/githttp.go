// Package githttp is an example net/http middleware that guards git's smart-HTTP
// endpoints with the forge-authz policy: it takes the credential from the Authorization
// header (Bearer, or Basic with the token as the password, as git sends it), the
// repository and the action from the path, asks the policy with the forge's own store as
// its FactSource, and maps the decision to the response git expects (401 with
// WWW-Authenticate so that git prompts, 403, 404, 400, 503).
//
//	authz := &githttp.Authorizer{Policy: policy, Facts: store} // store: a forgeauthz.FactSource
//	http.Handle("/", authz.Middleware(gitHandler))
//
// The policy asks the store for exactly the facts of each decision (the token record, its
// owner, the repository as the owner sees it…): the middleware guesses nothing, and keeps
// nothing, so a token revoked in the store is refused by the next request.
//
// A push's ref updates (the commands at the head of the receive-pack body) are decided per
// ref (protected refs), and one refused update refuses the whole push (git http-backend
// cannot apply part of it): deletions and creations are seen there; whether an update is a
// force-push needs the object graph, which the forge's pre-receive hook has (Request.Refs
// with Force), as the forward-auth mode of `forge-authz serve` does.
package githttp

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"forgeauthz"
)

// Authorizer guards git smart HTTP.
type Authorizer struct {
	// Policy decides.
	Policy *forgeauthz.Policy
	// Facts is the forge's store (forgeauthz.FactSource; example/forgedb is one over a
	// Gitea-shaped database). A failing store is a 503.
	Facts forgeauthz.FactSource
	// Realm is the WWW-Authenticate realm (default "forge").
	Realm string
	// Log, if set, sees every decision (err: nothing was decided).
	Log func(r *http.Request, d forgeauthz.Decision, err error)
	// ClientAddress, if set, gives the client's address IP allow lists are checked with
	// (behind a reverse proxy: its header, read only when r.RemoteAddr is that proxy).
	// Default: the TCP peer (PeerAddress). "" is unknown, refused wherever a list applies.
	ClientAddress func(r *http.Request) string
}

// PeerAddress is the TCP peer's address of r (an IPv4-mapped IPv6 address as IPv4), ""
// when r.RemoteAddr is not host:port.
func PeerAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	return ip.Unmap().String()
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
		clientAddress := a.ClientAddress
		if clientAddress == nil {
			clientAddress = PeerAddress
		}
		req := forgeauthz.Request{Credential: cred, Repository: repo, Action: action, ClientAddress: clientAddress(r)}
		if action == forgeauthz.Push && r.Method == http.MethodPost {
			refs, body, err := receiveCommands(r)
			if err != nil {
				a.refuse(w, http.StatusBadRequest, "request-invalid", "unreadable receive-pack commands")
				return
			}
			req.Refs, r.Body = refs, body
		}
		d, err := a.Policy.DecideWith(r.Context(), a.Facts, req)
		if a.Log != nil {
			a.Log(r, d, err)
		}
		switch {
		case err != nil:
			// Nothing was decided (facts unavailable, the policy refused to read the
			// request): fail closed.
			a.refuse(w, forgeauthz.PolicyFailureStatus, forgeauthz.PolicyFailureCode, forgeauthz.PolicyFailureMessage)
		case refused(d) != nil:
			// The push is allowed but some of its ref updates are not ("push allowed; some
			// ref updates are refused"): git http-backend cannot apply part of a push, so
			// none is applied.
			ref := refused(d)
			a.refuse(w, http.StatusForbidden, ref.Reason, ref.Message)
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

// refused is the first ref update an allowed push may not make (nil: none).
func refused(d forgeauthz.Decision) *forgeauthz.RefDecision {
	if !d.Allowed() {
		return nil
	}
	for i := range d.Refs {
		if !d.Refs[i].Allowed() {
			return &d.Refs[i]
		}
	}
	return nil
}

// maxCommands bounds the receive-pack commands read before deciding.
const maxCommands = 1 << 20

// receiveCommands reads the ref updates at the head of a receive-pack body (pkt-lines
// "<old> <new> <ref>[\0caps]" up to the flush-pkt, after any "shallow" lines; through
// gzip when the body is) and returns them with a body that replays every byte as it came.
func receiveCommands(r *http.Request) ([]forgeauthz.RefUpdate, io.ReadCloser, error) {
	var head bytes.Buffer // the raw bytes read so far
	var in io.Reader = io.TeeReader(r.Body, &head)
	if r.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(in)
		if err != nil {
			return nil, nil, err
		}
		in = z
	}
	br := bufio.NewReader(in)
	var refs []forgeauthz.RefUpdate
	for {
		if head.Len() > maxCommands {
			return nil, nil, errors.New("too many commands")
		}
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			if err == io.EOF && len(refs) == 0 {
				break // an empty body: no commands (git http-backend answers it)
			}
			return nil, nil, err
		}
		n, err := strconv.ParseUint(string(size[:]), 16, 16)
		if err != nil || (n != 0 && n < 4) {
			return nil, nil, errors.New("bad pkt-line")
		}
		if n == 0 {
			break // flush: the pack follows
		}
		line := make([]byte, n-4)
		if _, err := io.ReadFull(br, line); err != nil {
			return nil, nil, err
		}
		text := strings.TrimSuffix(string(line), "\n")
		if text, _, _ = strings.Cut(text, "\x00"); strings.HasPrefix(text, "shallow ") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 || len(f[0]) != len(forgeauthz.ZeroID) || len(f[1]) != len(forgeauthz.ZeroID) {
			return nil, nil, errors.New("bad command")
		}
		refs = append(refs, forgeauthz.RefUpdate{Name: f[2], Old: f[0], New: f[1]})
	}
	// What the readers buffered beyond the flush is in head too: head, then the rest.
	return refs, struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head.Bytes()), r.Body), r.Body}, nil
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
