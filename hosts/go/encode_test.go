package forgeauthz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// plainRequest is Request without its hand-written MarshalJSON: encoding/json writes it from
// its fields and tags, the reference for the hand-written encoder.
type plainRequest Request

// refRequest is a plainRequest whose credential and repository encoding/json writes from
// the reference's own values: these outer fields take the place of the embedded ones of the
// same JSON names (a shallower field wins). Only the member order differs, which sameJSON
// ignores.
type refRequest struct {
	plainRequest
	Credential json.RawMessage `json:"credential"`
	Repository *string         `json:"repository,omitempty"`
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
	ref := refRequest{plainRequest: plainRequest(r), Credential: cred}
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
		{Credential: Bearer(odd), Repository: odd, Action: Pull, ClientAddress: "2001:db8::7"},
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
