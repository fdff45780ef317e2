package forgeauthz

import (
	"context"
	"encoding/hex"
	"strings"

	"forgeauthz/internal/corpus"
)

// worldSource is a FactSource over a Facts world, answering each query as hosts/README.md
// "Facts" says a world does (fixture/src/world.rs): the callback path replayed against the
// very world the world path decides from must give the same outputs. It records the queries
// each decision asked (QueryObserver) and fixes the clock to the world's (Clock).
type worldSource struct {
	f     *Facts
	asked corpus.Recorder
}

func (s *worldSource) Now() int64 { return s.f.Now }

func (s *worldSource) ObserveQuery(asked string) { s.asked.Add(asked) }

// equalASCIIFold compares as Rust's eq_ignore_ascii_case: ASCII letters fold, every
// other byte compares exactly.
func equalASCIIFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (s *worldSource) findUser(name string) *User {
	for i := range s.f.Users {
		if equalASCIIFold(s.f.Users[i].Name, name) {
			return &s.f.Users[i]
		}
	}
	return nil
}

func roleIn(m map[string]Role, name string) Role {
	for k, r := range m {
		if equalASCIIFold(k, name) {
			return r
		}
	}
	return RoleNone
}

var roleRank = map[Role]int{RoleNone: 0, "": 0, RoleRead: 1, RoleWrite: 2, RoleAdmin: 3}

func maxRole(a, b Role) Role {
	if roleRank[b] > roleRank[a] {
		return b
	}
	if a == "" {
		return RoleNone
	}
	return a
}

func statusOr(s Status) Status {
	if s == "" {
		return Active
	}
	return s
}

func visibilityOr(v Visibility) Visibility {
	if v == "" {
		return Public
	}
	return v
}

// memberRole is viewer's role in organisation org (none for users and non-members).
func (s *worldSource) memberRole(org, viewer string) Role {
	if u := s.findUser(org); u != nil && u.Organization {
		return roleIn(u.Members, viewer)
	}
	return RoleNone
}

func (s *worldSource) Token(_ context.Context, id string) (TokenRecord, bool, error) {
	for _, t := range s.f.Tokens {
		if t.ID == id {
			// The world reads a malformed digest as the all-zero SHA-256, which no secret
			// matches (the token is unknown); a callback source must send a well-formed one.
			if b, err := hex.DecodeString(t.SecretHash); err != nil || len(b) != 32 ||
				(t.Digest != "" && t.Digest != "sha256" && t.Digest != "hmac-tag") {
				t.SecretHash, t.Digest = strings.Repeat("0", 64), "sha256"
			}
			return t, true, nil
		}
	}
	return TokenRecord{}, false, nil
}

func (s *worldSource) User(_ context.Context, name string) (UserFacts, bool, error) {
	u := s.findUser(name)
	if u == nil {
		return UserFacts{}, false, nil
	}
	return UserFacts{Status: statusOr(u.Status), SiteAdmin: u.SiteAdmin, Visibility: visibilityOr(u.Visibility), Organization: u.Organization}, true, nil
}

func (s *worldSource) Repository(_ context.Context, path, viewer string) (RepositoryFacts, bool, error) {
	owner, name, ok := strings.Cut(path, "/")
	if !ok {
		return RepositoryFacts{}, false, nil
	}
	for _, r := range s.f.Repositories {
		if !equalASCIIFold(r.Owner, owner) || !equalASCIIFold(r.Name, name) {
			continue
		}
		role := RoleNone
		if viewer != "" {
			role = maxRole(roleIn(r.Collaborators, viewer), s.memberRole(r.Owner, viewer))
		}
		ownerVisibility := Private // an owner missing from users: unknown, so private
		var ownerIPAllow []string
		if u := s.findUser(r.Owner); u != nil {
			ownerVisibility, ownerIPAllow = visibilityOr(u.Visibility), u.IPAllow
		}
		kind := r.Kind
		if kind == "" {
			kind = Hosted
		}
		return RepositoryFacts{
			Path: r.Owner + "/" + r.Name, OwnerVisibility: ownerVisibility, Private: r.Private,
			Kind: kind, Archived: r.Archived, Role: role, ProtectedRefs: r.ProtectedRefs,
			Registrant: r.Registrant, OwnerIPAllow: ownerIPAllow,
		}, true, nil
	}
	return RepositoryFacts{}, false, nil
}

func (s *worldSource) Namespace(_ context.Context, name, viewer string) (NamespaceFacts, bool, error) {
	u := s.findUser(name)
	if u == nil {
		return NamespaceFacts{}, false, nil
	}
	role := RoleNone
	switch {
	case viewer == "":
	case !u.Organization && equalASCIIFold(u.Name, viewer):
		role = RoleAdmin
	default:
		role = s.memberRole(u.Name, viewer)
	}
	return NamespaceFacts{Organization: u.Organization, Visibility: visibilityOr(u.Visibility), MemberRole: role,
		IPAllow: u.IPAllow}, true, nil
}

func (s *worldSource) SSHKey(_ context.Context, id string) (SSHKeyFact, bool, error) {
	for _, k := range s.f.SSHKeys {
		if k.ID == id {
			return k, true, nil
		}
	}
	return SSHKeyFact{}, false, nil
}
