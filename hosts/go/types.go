package forgeauthz

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Key is a token key: an id and its secret (32 bytes or more; hex in JSON).
type Key struct {
	ID     string
	Secret []byte
}

type keyJSON struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

// MarshalJSON writes {"id", "secret": "<hex>"}.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(keyJSON{ID: k.ID, Secret: hex.EncodeToString(k.Secret)})
}

// UnmarshalJSON reads {"id", "secret": "<hex>"}.
func (k *Key) UnmarshalJSON(b []byte) error {
	var j keyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	s, err := hex.DecodeString(j.Secret)
	if err != nil {
		return fmt.Errorf("key %q: secret is not hex", j.ID)
	}
	*k = Key{ID: j.ID, Secret: s}
	return nil
}

// String keeps the secret out of logs.
func (k Key) String() string { return "key " + k.ID + " (secret redacted)" }

// GoString keeps the secret out of %#v.
func (k Key) GoString() string { return k.String() }

// Options are the policy options (README, "Policy options"); nil fields take the
// defaults.
type Options struct {
	// BindingFallbackToAnonymous: outside a token's binding, decide as anonymous (Forgejo)
	// instead of 401 token-not-bound. Default false.
	BindingFallbackToAnonymous bool `json:"binding_fallback_to_anonymous,omitempty"`
	// RequireExpiry: minting needs an expiry. Default true.
	RequireExpiry *bool `json:"require_expiry,omitempty"`
	// MaxLifetime and MinLifetime bound a minted token's lifetime, in seconds (defaults
	// 366 days and 300 s).
	MaxLifetime *int64 `json:"max_lifetime,omitempty"`
	MinLifetime *int64 `json:"min_lifetime,omitempty"`
}

// Credential is what a request presents: anonymous (the zero value), a bearer token, HTTP
// Basic, an SSH key the SSH server verified, or a session the forge authenticated itself.
// Build one with Anonymous, Bearer, Basic, SSHKey or Session.
type Credential struct {
	kind     credentialKind
	value    string // bearer token, key id, session login, basic username
	password string
}

type credentialKind uint8

const (
	credAnonymous credentialKind = iota
	credBearer
	credBasic
	credSSHKey
	credSession
)

// Anonymous is no credential.
func Anonymous() Credential { return Credential{} }

// Bearer is `Authorization: Bearer <token>` (or a token found in another header).
func Bearer(token string) Credential { return Credential{kind: credBearer, value: token} }

// Basic is HTTP Basic (git's usual way to send a token as the password).
func Basic(username, password string) Credential {
	return Credential{kind: credBasic, value: username, password: password}
}

// SSHKey is an SSH key the SSH server verified, by its id in the world's ssh_keys.
func SSHKey(id string) Credential { return Credential{kind: credSSHKey, value: id} }

// Session is a user the forge authenticated itself (web session, password).
func Session(login string) Credential { return Credential{kind: credSession, value: login} }

// IsAnonymous reports whether the credential is anonymous.
func (c Credential) IsAnonymous() bool { return c.kind == credAnonymous }

// String names the credential's kind, never its secret.
func (c Credential) String() string {
	switch c.kind {
	case credBearer:
		return "bearer(<redacted>)"
	case credBasic:
		return "basic(<redacted>)"
	case credSSHKey:
		return "ssh-key(" + c.value + ")"
	case credSession:
		return "session(" + c.value + ")"
	default:
		return "anonymous"
	}
}

// GoString keeps secrets out of %#v.
func (c Credential) GoString() string { return c.String() }

type basicJSON struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// MarshalJSON writes the request format's credential: "anonymous", {"bearer": …},
// {"basic": {"username", "password"}}, {"ssh-key": …}, {"session": …}.
func (c Credential) MarshalJSON() ([]byte, error) { return c.appendJSON(nil), nil }

// UnmarshalJSON reads the request format's credential.
func (c *Credential) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "anonymous" {
			return fmt.Errorf("forgeauthz: unknown credential %q", s)
		}
		*c = Anonymous()
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return errors.New("forgeauthz: a credential has exactly one kind")
	}
	for k, v := range m {
		switch k {
		case "basic":
			var bj basicJSON
			if err := json.Unmarshal(v, &bj); err != nil {
				return err
			}
			*c = Basic(bj.Username, bj.Password)
			return nil
		case "bearer", "ssh-key", "session":
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			*c = map[string]func(string) Credential{"bearer": Bearer, "ssh-key": SSHKey, "session": Session}[k](s)
			return nil
		default:
			return fmt.Errorf("forgeauthz: unknown credential kind %q", k)
		}
	}
	return nil
}

// Kind is what a request asks.
type Kind string

// Request kinds ("" is git).
const (
	KindGit            Kind = "git"
	KindCreate         Kind = "create"
	KindAPI            Kind = "api"
	KindBatch          Kind = "batch"
	KindRefPermissions Kind = "ref-permissions"
)

// Transport is how a git request arrived ("" is http).
type Transport string

// Transports.
const (
	HTTP Transport = "http"
	SSH  Transport = "ssh"
)

// Action is a git action.
type Action string

// Step is a repository creation step.
type Step string

// Category is a scope category an API route declares.
type Category string

// Operation is a privileged API operation.
type Operation string

// Role is a role on a repository or in an organisation.
type Role string

// The constants of these types, every reason code and the policy-failure answer are
// generated from the policy core's tables: vocabulary_gen.go.

// ZeroID is the object id of a ref that does not exist (Old of a creation, New of a
// deletion).
const ZeroID = "0000000000000000000000000000000000000000"

// RefUpdate is one ref update of a push. Old and New default to a non-zero id; ZeroID
// means create (Old) or delete (New).
type RefUpdate struct {
	Name  string `json:"name"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
	Force bool   `json:"force,omitempty"`
}

// Request is a request in the format of `forge-authz decide` (README, "World fixture"):
// one flat shape for every kind; fields a kind does not use stay empty.
type Request struct {
	Credential Credential `json:"credential"`
	// AlsoPresented lists tokens found elsewhere in the request (query, other headers).
	AlsoPresented []string `json:"also_presented,omitempty"`
	// ClientAddress is the client's address ("192.0.2.7", "2001:db8::7"): the peer, or
	// what a trusted proxy forwarded. Checked against IP allow lists; "" (unknown) is
	// refused wherever a list applies (contract 0.6).
	ClientAddress string    `json:"client_address,omitempty"`
	Kind          Kind      `json:"kind,omitempty"`
	Transport     Transport `json:"transport,omitempty"`
	// Repository is `owner/name` (one trailing `.git` is dropped). Git and create
	// requests always send it (see MarshalJSON).
	Repository string `json:"repository,omitempty"`
	Action     Action `json:"action,omitempty"`
	// Refs are a push's ref updates.
	Refs []RefUpdate `json:"refs,omitempty"`
	// RefNames are the refs of a ref-permissions request.
	RefNames []string `json:"ref_names,omitempty"`
	// Repositories are a batch's repositories.
	Repositories []string `json:"repositories,omitempty"`
	Step         Step     `json:"step,omitempty"`
	// API routes: the method, the route's scope categories, targets and flags.
	Method       string     `json:"method,omitempty"`
	Categories   []Category `json:"categories,omitempty"`
	Namespace    string     `json:"namespace,omitempty"`
	RequiresAuth bool       `json:"requires_auth,omitempty"`
	AdminOnly    bool       `json:"admin_only,omitempty"`
	RequiredRole Role       `json:"required_role,omitempty"`
	Operation    Operation  `json:"operation,omitempty"`
	Sudo         string     `json:"sudo,omitempty"`
	Package      bool       `json:"package,omitempty"`
	// WritesContent: the route changes the repository's content (mirrors, imports and
	// archived repositories refuse it, as a push). Contract 0.5.
	WritesContent bool `json:"writes_content,omitempty"`
	// CreatesInOwnNamespace: the route creates in the acting account's own namespace and
	// names no target (restricted tokens are refused). Contract 0.5.
	CreatesInOwnNamespace bool `json:"creates_in_own_namespace,omitempty"`
	// Now is the time in Unix seconds; 0: the world's clock.
	Now int64 `json:"now,omitempty"`
	// Explain asks for the trace of every rule consulted (Decision.Trace).
	Explain bool `json:"explain,omitempty"`
}

// MarshalJSON writes the request format. A git or create request always carries its
// repository, even "" (the policy answers 400 request-invalid, as for any malformed
// path); for the other kinds "" means no repository.
func (r Request) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 256)), nil
}

// Decision is a decision as `forge-authz decide` prints it.
type Decision struct {
	// Decision is "allow" or "deny"; use Allowed, which also requires the library's code.
	Decision string `json:"decision"`
	// Status is the HTTP status: 200, 400, 401, 403, 404, or 503 (policy-failure).
	Status int `json:"status"`
	// Reason is the stable reason code (README, "Decision table").
	Reason string `json:"reason"`
	// Message is for the user: never a secret, never whether a private repository exists.
	Message string `json:"message,omitempty"`
	// Detail is for operators' logs (nil when there is none).
	Detail *string `json:"detail,omitempty"`
	// Refs are the per-ref verdicts of a push, in request order.
	Refs []RefDecision `json:"refs,omitempty"`
	// Trace is the explanation (Request.Explain).
	Trace []TraceStep `json:"trace,omitempty"`
	// Repository is set in a batch's decisions.
	Repository string `json:"repository,omitempty"`

	allowed bool
}

// Allowed reports whether the request is allowed: only a decision the library returned
// FA_ALLOW for, and that says "allow". The zero value, and a Decision decoded from JSON
// by anyone else, is not allowed.
func (d Decision) Allowed() bool { return d.allowed && d.Decision == "allow" }

// PolicyFailure reports whether the policy could not decide (503 policy-failure).
func (d Decision) PolicyFailure() bool { return d.Reason == PolicyFailureCode }

// seal records the library's return code; a decision that disagrees with it is an error.
func (d *Decision) seal(code int) error {
	switch {
	case code != codeAllow && code != codeDeny:
		return &Error{Op: "decide", Code: code, Message: "unexpected return code"}
	case code == codeDeny && d.Decision != "deny":
		return &Error{Op: "decide", Code: code, Message: "the library denied but the decision says " + d.Decision}
	case d.Decision != "allow" && d.Decision != "deny":
		return &Error{Op: "decide", Code: code, Message: "unknown decision " + d.Decision}
	}
	d.allowed = code == codeAllow && d.Decision == "allow"
	return nil
}

// RefDecision is one ref's verdict in a push.
type RefDecision struct {
	Name     string `json:"name"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

// Allowed reports whether the ref may be updated (the push itself must be allowed too).
func (r RefDecision) Allowed() bool { return r.Decision == "allow" }

// TraceStep is one rule the policy consulted.
type TraceStep struct {
	Rule    string `json:"rule"`
	Outcome string `json:"outcome"` // pass, decide or skip
	Detail  string `json:"detail"`
}

// RefPermissions is what a push may do to one ref.
type RefPermissions struct {
	Create, Push, ForcePush bool
}

// MarshalJSON writes the list form: ["create", "push", "force-push"] (those set).
func (p RefPermissions) MarshalJSON() ([]byte, error) {
	l := []string{}
	if p.Create {
		l = append(l, "create")
	}
	if p.Push {
		l = append(l, "push")
	}
	if p.ForcePush {
		l = append(l, "force-push")
	}
	return json.Marshal(l)
}

// UnmarshalJSON reads the list form.
func (p *RefPermissions) UnmarshalJSON(b []byte) error {
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*p = RefPermissions{}
	for _, s := range l {
		switch s {
		case "create":
			p.Create = true
		case "push":
			p.Push = true
		case "force-push":
			p.ForcePush = true
		default:
			return fmt.Errorf("forgeauthz: unknown ref permission %q", s)
		}
	}
	return nil
}
