package forgeauthz

import (
	"context"
	"strconv"
	"time"
)

// The callback path (docs/design/fact-sources.md §3): instead of a World snapshot, the
// policy asks the forge's own store for exactly the facts of one decision, through a
// FactSource. The answers cross the C ABI as the boundary JSON of §1, written here by hand
// (like encode.go: reflection would cost more than the policy call).

// UserFacts are an account's facts (the `user` query).
type UserFacts struct {
	Status       Status     `json:"status"`
	SiteAdmin    bool       `json:"site_admin"`
	Visibility   Visibility `json:"visibility"`
	Organization bool       `json:"organization"`
}

// RepositoryFacts are a repository as one viewer sees it (the `repository` query).
type RepositoryFacts struct {
	// Path is `owner/name` as stored (the path served from disk); "" means the path asked.
	// Any other name than the one asked (ASCII case aside) fails the decision.
	Path            string         `json:"path,omitempty"`
	OwnerVisibility Visibility     `json:"owner_visibility"`
	Private         bool           `json:"private"`
	Kind            RepositoryKind `json:"kind"`
	Archived        bool           `json:"archived"`
	// Role is the viewer's role (RoleNone for an anonymous viewer).
	Role          Role           `json:"role"`
	ProtectedRefs []ProtectedRef `json:"protected_refs,omitempty"`
	// Registrant is the user who started the repository's creation ("" none); the policy
	// sees it only when it asks for it.
	Registrant string `json:"registrant,omitempty"`
	// OwnerIPAllow is the owner's IP allow list (NamespaceFacts.IPAllow of the owner):
	// empty, no restriction (contract 0.6).
	OwnerIPAllow []string `json:"owner_ip_allow,omitempty"`
}

// NamespaceFacts are a user or organisation as a namespace, with the viewer's role in it.
type NamespaceFacts struct {
	Organization bool       `json:"organization"`
	Visibility   Visibility `json:"visibility"`
	MemberRole   Role       `json:"member_role"`
	// IPAllow is the account's IP allow list (CIDR blocks): non-empty, authenticated
	// requests to it and its repositories must come from an address in a block (contract
	// 0.6). Empty: no restriction.
	IPAllow []string `json:"ip_allow,omitempty"`
}

// FactSource answers the policy's questions from the forge's store, once per decision
// (DecideWith). Names compare ASCII-case-insensitively, a token id exactly. viewer "" is
// anonymous.
//
// (zero, false, nil) is "no such fact": an ordinary deny (401, 404). A non-nil error, a
// panic, an answer past Policy.FactBudget (ctx carries it as its deadline), or an answer
// that does not describe the name asked (a TokenRecord whose ID is not the id asked, an
// empty Role…) is a failure: the decision is the policy-failure deny (503), never "not
// found", never an allow. Every field of a found answer decides: set them all.
//
// Methods are called on the goroutine that called DecideWith, while it runs; concurrent
// decisions call them concurrently (a *sql.DB is safe for that).
type FactSource interface {
	Token(ctx context.Context, id string) (TokenRecord, bool, error)
	User(ctx context.Context, name string) (UserFacts, bool, error)
	Repository(ctx context.Context, path, viewer string) (RepositoryFacts, bool, error)
	Namespace(ctx context.Context, name, viewer string) (NamespaceFacts, bool, error)
}

// SSHKeySource is implemented by a FactSource that knows SSH keys (the SSHKey
// credential). Without it every SSH key is unknown (an unreadable request, as with a World
// that lacks the key).
type SSHKeySource interface {
	SSHKey(ctx context.Context, id string) (SSHKeyFact, bool, error)
}

// BatchSource is implemented by a FactSource that answers a batch's repositories in one
// go (DecideBatchWith): one entry per path, in order, nil for a repository that does not
// exist. Without it each path is asked through Repository. A list of another length fails
// the decision.
type BatchSource interface {
	Repositories(ctx context.Context, paths []string, viewer string) ([]*RepositoryFacts, error)
}

// Clock is implemented by a FactSource with its own clock (a fixture's fixed time): the
// decision's time in Unix seconds, 0 for the system clock. A request's own Now wins.
type Clock interface {
	Now() int64
}

// QueryObserver is implemented by a FactSource that wants to see what each decision
// asked: the query JSON of design §1 ({"lookup": …} or {"repositories": …}), before it is
// answered. Tests record it; a forge may log it.
type QueryObserver interface {
	ObserveQuery(asked string)
}

// Effects are the store writes a decision asks for (design §2's effects hook): record the
// token's use, revoke its rotation family (an old token of a rotated family came back).
type Effects struct {
	Token         string `json:"token"`
	TouchLastUsed bool   `json:"touch_last_used"`
	RevokeFamily  bool   `json:"revoke_family"`
}

// EffectsSink is implemented by a FactSource that writes a decision's effects to its
// store. It is told once, after the decision, on the deciding goroutine, only when there is
// something to write (ctx: the caller's, without the fact budget); it cannot change the
// decision, so a write that fails is the forge's to log or retry.
type EffectsSink interface {
	Effects(ctx context.Context, e Effects)
}

// DefaultFactBudget is the wall time all callbacks of one decision may take when
// Policy.FactBudget is 0.
const DefaultFactBudget = 250 * time.Millisecond

func (p *Policy) factBudget() time.Duration {
	if p.FactBudget > 0 {
		return p.FactBudget
	}
	return DefaultFactBudget
}

// --- the boundary JSON (design §1) ---

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

func (f *fields) boolean(k string, v bool) {
	f.key(k)
	if v {
		f.b = append(f.b, "true"...)
	} else {
		f.b = append(f.b, "false"...)
	}
}

// appendArray writes l as a JSON array, each element by each.
func appendArray[T any](b []byte, l []T, each func(v *T, b []byte) []byte) []byte {
	b = append(b, '[')
	for i := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = each(&l[i], b)
	}
	return append(b, ']')
}

func appendStringAt(s *string, b []byte) []byte { return appendString(b, *s) }

// strings writes a list of strings, [] when empty.
func (f *fields) strings(k string, l []string) {
	f.key(k)
	f.b = appendArray(f.b, l, appendStringAt)
}

func (f *fields) optInt(k string, v *int64, omit bool) {
	if v == nil {
		if !omit {
			f.key(k)
			f.b = append(f.b, "null"...)
		}
		return
	}
	f.key(k)
	f.b = appendInt(f.b, *v)
}

// appendJSON writes a token record as TokenRecord.MarshalJSON does.
func (t *TokenRecord) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.str("id", t.ID)
	f.str("owner", t.Owner)
	f.str("name", t.Name)
	f.strings("scopes", t.Scopes)
	f.strings("repositories", t.Repositories)
	if len(t.Owners) > 0 {
		f.strings("owners", t.Owners)
	}
	f.strOmit("parent", t.Parent)
	f.strOmit("predecessor", t.Predecessor)
	f.strOmit("successor", t.Successor)
	f.optInt("last_used", t.LastUsed, true)
	f.key("created")
	f.b = appendInt(f.b, t.Created)
	f.optInt("expires", t.Expires, false)
	f.optInt("revoked", t.Revoked, false)
	f.str("secret_hash", t.SecretHash)
	f.strOmit("digest", t.Digest)
	if len(t.IPAllow) > 0 {
		f.strings("ip_allow", t.IPAllow)
	}
	return append(f.b, '}')
}

func (u *UserFacts) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.str("status", string(u.Status))
	f.boolean("site_admin", u.SiteAdmin)
	f.str("visibility", string(u.Visibility))
	f.boolean("organization", u.Organization)
	return append(f.b, '}')
}

func (a Access) appendJSON(b []byte) []byte {
	if a.Who != "" || a.Users == nil {
		return appendString(b, a.Who)
	}
	f := fields{b: append(b, '{'), first: true}
	f.strings("users", a.Users)
	return append(f.b, '}')
}

func (r *RepositoryFacts) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.strOmit("path", r.Path)
	f.str("owner_visibility", string(r.OwnerVisibility))
	f.boolean("private", r.Private)
	f.str("kind", string(r.Kind))
	f.boolean("archived", r.Archived)
	f.str("role", string(r.Role))
	if len(r.ProtectedRefs) > 0 {
		f.key("protected_refs")
		f.b = appendArray(f.b, r.ProtectedRefs, (*ProtectedRef).appendJSON)
	}
	f.strOmit("registrant", r.Registrant)
	if len(r.OwnerIPAllow) > 0 {
		f.strings("owner_ip_allow", r.OwnerIPAllow)
	}
	return append(f.b, '}')
}

// appendJSON writes the rule as ProtectedRef.MarshalJSON does (defaulted accesses left
// out).
func (p *ProtectedRef) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.str("pattern", p.Pattern)
	if !p.Push.isZero() {
		f.key("push")
		f.b = p.Push.appendJSON(f.b)
	}
	if !p.ForcePush.isZero() {
		f.key("force_push")
		f.b = p.ForcePush.appendJSON(f.b)
	}
	return append(f.b, '}')
}

func (n *NamespaceFacts) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.boolean("organization", n.Organization)
	f.str("visibility", string(n.Visibility))
	f.str("member_role", string(n.MemberRole))
	if len(n.IPAllow) > 0 {
		f.strings("ip_allow", n.IPAllow)
	}
	return append(f.b, '}')
}

// appendJSON writes the SSH key as the boundary's ssh_key answer (the public key, which
// decides nothing, is left out).
func (k *SSHKeyFact) appendJSON(b []byte) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.str("id", k.ID)
	f.str("kind", k.Kind)
	f.strOmit("owner", k.Owner)
	f.strOmit("repository", k.Repository)
	f.boolean("read_only", k.ReadOnly)
	return append(f.b, '}')
}

// appendRepositories writes a batch answer: one repository answer or null per entry.
func appendRepositories(b []byte, l []*RepositoryFacts) []byte {
	return appendArray(b, l, func(r **RepositoryFacts, b []byte) []byte {
		if *r == nil {
			return append(b, "null"...)
		}
		return (*r).appendJSON(b)
	})
}
