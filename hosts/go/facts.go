package forgeauthz

import "encoding/json"

// Facts is a world in the fixture format (README, "World fixture"), typed: what a forge
// reads from its database for its decisions. Names compare ASCII-case-insensitively.
type Facts struct {
	// Now fixes the clock (Unix seconds); 0: the system clock at each decision.
	Now int64 `json:"now,omitempty"`
	// Keys and SigningKey: the fixture carries them, decisions do not use them (the
	// policy's Config does); they may stay empty.
	Keys         []Key         `json:"keys"`
	SigningKey   string        `json:"signing_key"`
	Users        []User        `json:"users,omitempty"`
	Repositories []Repository  `json:"repositories,omitempty"`
	Tokens       []TokenRecord `json:"tokens,omitempty"`
	SSHKeys      []SSHKeyFact  `json:"ssh_keys,omitempty"`
	Options      *Options      `json:"options,omitempty"`
}

// MarshalJSON writes empty lists rather than null where the fixture requires a list.
func (f Facts) MarshalJSON() ([]byte, error) {
	type plain Facts
	if f.Keys == nil {
		f.Keys = []Key{}
	}
	return json.Marshal(plain(f))
}

// Status is an account's status.
type Status string

// Account statuses.
const (
	Active    Status = "active"
	Inactive  Status = "inactive"
	Suspended Status = "suspended"
)

// Visibility is who may see a user's or organisation's profile and repositories.
type Visibility string

// Visibilities.
const (
	Public  Visibility = "public"
	Limited Visibility = "limited"
	Private Visibility = "private"
)

// RepositoryKind is how a repository came to be.
type RepositoryKind string

// Repository kinds.
const (
	Hosted RepositoryKind = "hosted"
	Mirror RepositoryKind = "mirror"
	Import RepositoryKind = "import"
)

// User is a user or (Organization) an organisation. Status "" is active, Visibility ""
// public.
type User struct {
	Name         string          `json:"name"`
	Status       Status          `json:"status,omitempty"`
	SiteAdmin    bool            `json:"site_admin,omitempty"`
	Visibility   Visibility      `json:"visibility,omitempty"`
	Organization bool            `json:"organization,omitempty"`
	Members      map[string]Role `json:"members,omitempty"`
	// IPAllow is the account's IP allow list (CIDR blocks, "192.0.2.0/24",
	// "2001:db8::/32"): non-empty, authenticated requests to it and its repositories must
	// come from an address in a block (contract 0.6). Empty: no restriction.
	IPAllow []string `json:"ip_allow,omitempty"`
}

// Repository is a repository's facts. Kind "" is hosted.
type Repository struct {
	Owner         string          `json:"owner"`
	Name          string          `json:"name"`
	Private       bool            `json:"private,omitempty"`
	Kind          RepositoryKind  `json:"kind,omitempty"`
	Archived      bool            `json:"archived,omitempty"`
	Collaborators map[string]Role `json:"collaborators,omitempty"`
	ProtectedRefs []ProtectedRef  `json:"protected_refs,omitempty"`
	// Registrant is the user who started the repository's creation (the only one who may
	// confirm or abort it).
	Registrant string `json:"registrant,omitempty"`
}

// ProtectedRef is a branch-protection rule. A zero Access takes the default: push
// Writers, force-push Nobody.
type ProtectedRef struct {
	Pattern   string `json:"pattern"`
	Push      Access `json:"push,omitempty"`
	ForcePush Access `json:"force_push,omitempty"`
}

// MarshalJSON leaves defaulted accesses out.
func (p ProtectedRef) MarshalJSON() ([]byte, error) {
	m := map[string]interface{}{"pattern": p.Pattern}
	if !p.Push.isZero() {
		m["push"] = p.Push
	}
	if !p.ForcePush.isZero() {
		m["force_push"] = p.ForcePush
	}
	return json.Marshal(m)
}

// Access is who may do something to a protected ref: Writers, Admins, Nobody, or Users.
type Access struct {
	// Who is "writers", "admins" or "nobody"; "" with Users set: those users.
	Who   string
	Users []string
}

// Accesses.
var (
	Writers = Access{Who: "writers"}
	Admins  = Access{Who: "admins"}
	Nobody  = Access{Who: "nobody"}
)

// Users is access for the named users.
func Users(names ...string) Access {
	if names == nil {
		names = []string{}
	}
	return Access{Users: names}
}

func (a Access) isZero() bool { return a.Who == "" && a.Users == nil }

// MarshalJSON writes "writers", "admins", "nobody" or {"users": [...]}.
func (a Access) MarshalJSON() ([]byte, error) {
	if a.Who != "" || a.Users == nil {
		return json.Marshal(a.Who)
	}
	return json.Marshal(map[string][]string{"users": a.Users})
}

// UnmarshalJSON reads the fixture's access.
func (a *Access) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = Access{Who: s}
		return nil
	}
	var m struct {
		Users []string `json:"users"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*a = Users(m.Users...)
	return nil
}

// TokenRecord is a stored token record (what Issue returns; never the secret). Times are
// Unix seconds; nil: none.
type TokenRecord struct {
	ID           string   `json:"id"`
	Owner        string   `json:"owner"`
	Name         string   `json:"name"`
	Scopes       []string `json:"scopes"`
	Repositories []string `json:"repositories"`
	Owners       []string `json:"owners,omitempty"`
	Parent       string   `json:"parent,omitempty"`
	Predecessor  string   `json:"predecessor,omitempty"`
	Successor    string   `json:"successor,omitempty"`
	LastUsed     *int64   `json:"last_used,omitempty"`
	Created      int64    `json:"created"`
	Expires      *int64   `json:"expires"`
	Revoked      *int64   `json:"revoked"`
	// SecretHash is hex: the HMAC tag (Digest "hmac-tag", what Issue writes) or the SHA-256
	// of the whole secret (Digest "sha256", records written before 0.4; "" means sha256).
	SecretHash string `json:"secret_hash"`
	Digest     string `json:"digest,omitempty"`
	// IPAllow is the token's own IP allow list (CIDR blocks): non-empty, every use must
	// come from an address in a block (contract 0.6). Empty: no restriction.
	IPAllow []string `json:"ip_allow,omitempty"`
}

// MarshalJSON writes empty lists rather than null.
func (t TokenRecord) MarshalJSON() ([]byte, error) {
	type plain TokenRecord
	if t.Scopes == nil {
		t.Scopes = []string{}
	}
	if t.Repositories == nil {
		t.Repositories = []string{}
	}
	return json.Marshal(plain(t))
}

// SSHKeyFact is an SSH key the forge knows: a user's key (Kind "user", Owner) or a
// repository's deploy key (Kind "deploy", Repository, ReadOnly).
type SSHKeyFact struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Owner      string `json:"owner,omitempty"`
	Repository string `json:"repository,omitempty"`
	ReadOnly   bool   `json:"read_only,omitempty"`
	PublicKey  string `json:"public_key,omitempty"`
}
