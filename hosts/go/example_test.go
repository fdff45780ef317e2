package forgeauthz_test

import (
	"bytes"
	"context"
	"fmt"

	"forgeauthz"
)

func Example() {
	ctx := context.Background()
	policy, err := forgeauthz.LoadPolicy(nil, forgeauthz.Config{ // nil: the embedded module
		Keys:       []forgeauthz.Key{{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}},
		SigningKey: "k1",
	})
	if err != nil {
		panic(err)
	}
	defer policy.Close()

	// The facts of the decisions (a forge reads them from its database).
	world, err := forgeauthz.NewWorldFrom(&forgeauthz.Facts{
		Now:          1767225600,
		Users:        []forgeauthz.User{{Name: "alice"}},
		Repositories: []forgeauthz.Repository{{Owner: "alice", Name: "app", Private: true}},
	})
	if err != nil {
		panic(err)
	}
	defer world.Close()

	// Mint a token (its record joins the world; store it, show the secret once).
	token, err := policy.Issue(ctx, world, forgeauthz.Mint{
		Owner: "alice", Name: "ci", Scopes: []string{"read:repository"}, ExpiresIn: 86400,
	})
	if err != nil {
		panic(err)
	}

	for _, req := range []forgeauthz.Request{
		{Credential: forgeauthz.Bearer(token.Secret), Repository: "alice/app", Action: forgeauthz.Pull},
		{Credential: forgeauthz.Basic("alice", token.Secret), Repository: "alice/app.git", Action: forgeauthz.Push},
		{Credential: forgeauthz.Anonymous(), Repository: "alice/app", Action: forgeauthz.Pull},
	} {
		d, err := policy.Decide(ctx, world, req)
		if err != nil {
			fmt.Println("error:", err) // nothing was decided: refuse (503)
			continue
		}
		fmt.Println(d.Allowed(), d.Status, d.Reason)
	}
	// Output:
	// true 200 granted
	// false 403 scope-missing
	// false 401 authentication-required
}
