package forgeauthz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// refRequest is Request as encoding/json writes it: the reference for the hand-written
// encoder.
type refRequest struct {
	Credential    json.RawMessage `json:"credential"`
	AlsoPresented []string        `json:"also_presented,omitempty"`
	Kind          Kind            `json:"kind,omitempty"`
	Transport     Transport       `json:"transport,omitempty"`
	Repository    *string         `json:"repository,omitempty"`
	Action        Action          `json:"action,omitempty"`
	Refs          []RefUpdate     `json:"refs,omitempty"`
	RefNames      []string        `json:"ref_names,omitempty"`
	Repositories  []string        `json:"repositories,omitempty"`
	Step          Step            `json:"step,omitempty"`
	Method        string          `json:"method,omitempty"`
	Categories    []Category      `json:"categories,omitempty"`
	Namespace     string          `json:"namespace,omitempty"`
	RequiresAuth  bool            `json:"requires_auth,omitempty"`
	AdminOnly     bool            `json:"admin_only,omitempty"`
	RequiredRole  Role            `json:"required_role,omitempty"`
	Operation     Operation       `json:"operation,omitempty"`
	Sudo          string          `json:"sudo,omitempty"`
	Package       bool            `json:"package,omitempty"`
	WritesContent bool            `json:"writes_content,omitempty"`
	CreatesOwn    bool            `json:"creates_in_own_namespace,omitempty"`
	Now           int64           `json:"now,omitempty"`
	Explain       bool            `json:"explain,omitempty"`
}

func reference(t *testing.T, r Request) []byte {
	var cred json.RawMessage
	var err error
	switch r.Credential.kind {
	case credAnonymous:
		cred, err = json.Marshal("anonymous")
	case credBearer:
		cred, err = json.Marshal(map[string]string{"bearer": r.Credential.value})
	case credBasic:
		cred, err = json.Marshal(map[string]map[string]string{"basic": {"username": r.Credential.value, "password": r.Credential.password}})
	case credSSHKey:
		cred, err = json.Marshal(map[string]string{"ssh-key": r.Credential.value})
	case credSession:
		cred, err = json.Marshal(map[string]string{"session": r.Credential.value})
	}
	if err != nil {
		t.Fatal(err)
	}
	ref := refRequest{cred, r.AlsoPresented, r.Kind, r.Transport, nil, r.Action, r.Refs, r.RefNames, r.Repositories, r.Step,
		r.Method, r.Categories, r.Namespace, r.RequiresAuth, r.AdminOnly, r.RequiredRole, r.Operation, r.Sudo, r.Package,
		r.WritesContent, r.CreatesInOwnNamespace, r.Now, r.Explain}
	switch r.Kind {
	case "", KindGit, KindCreate:
		ref.Repository = &r.Repository
	default:
		if r.Repository != "" {
			ref.Repository = &r.Repository
		}
	}
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestEncoding(t *testing.T) {
	odd := "q\"b\\s/\n\r\t\x00\x01\x1f\x7f<>&é€😀\u2028\xff\xc3(end"
	reqs := []Request{
		{},
		{Credential: Bearer(odd), Repository: odd, Action: Pull},
		{Credential: Basic(odd, "p\x00w"), Kind: KindAPI, Method: "G E T", Categories: []Category{CategoryAdmin, CategoryRepository},
			Namespace: "acme", RequiresAuth: true, AdminOnly: true, RequiredRole: RoleWrite, Operation: Moderate, Sudo: "bob",
			Package: true, WritesContent: true, CreatesInOwnNamespace: true, Now: -5, Explain: true,
			AlsoPresented: []string{"a", odd}},
		{Credential: SSHKey("laptop"), Transport: SSH, Repository: "a/b", Action: Push,
			Refs: []RefUpdate{{Name: "refs/heads/main"}, {Name: odd, Old: ZeroID, New: "x", Force: true}}},
		{Credential: Session("alice"), Kind: KindBatch, Action: Pull, Repositories: []string{"a/b", odd}},
		{Kind: KindRefPermissions, Repository: "a/b", RefNames: []string{"refs/heads/x"}},
		{Kind: KindCreate, Step: PushToCreate},
		{Kind: KindAPI, Repository: ""},
	}
	// And every request of the corpus, when it is there.
	if dir := os.Getenv("FORGE_AUTHZ_CORPUS"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(repoRoot, dir)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, file := range files {
			var cf corpusFile
			if err := json.Unmarshal(readFile(t, file), &cf); err != nil {
				t.Fatal(err)
			}
			for _, sc := range cf.Scenarios {
				var r Request
				if err := json.Unmarshal(sc.Request, &r); err != nil {
					t.Fatal(err)
				}
				reqs = append(reqs, r)
			}
		}
	}
	for _, r := range reqs {
		got, _ := json.Marshal(r)
		want := reference(t, r)
		if same, err := sameJSON(got, want); err != nil || !same {
			t.Errorf("encoding:\n got  %s\n want %s (%v)", got, want, err)
		}
		var back Request
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	// Credentials alone (Verify).
	for _, c := range []Credential{Anonymous(), Bearer(odd), Basic("u", odd), SSHKey(odd), Session(odd)} {
		got, _ := json.Marshal(c)
		var back Credential
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
		again, _ := json.Marshal(back)
		if same, err := sameJSON(again, got); err != nil || !same {
			t.Errorf("credential round trip: %s, %s", got, again)
		}
	}
}
