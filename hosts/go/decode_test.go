package forgeauthz

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecisionDecoding: the flat reader gives exactly what encoding/json gives, and hands
// anything it does not expect to encoding/json (which refuses what is not JSON).
func TestDecisionDecoding(t *testing.T) {
	for _, c := range []struct {
		in   string
		flat bool // the flat reader takes it
	}{
		{`{"decision":"allow","status":200,"reason":"granted"}`, true},
		{`{"decision":"deny","status":401,"reason":"token-invalid","message":"the token is not valid","detail":""}`, true},
		{`{"decision":"deny","status":503,"reason":"policy-failure","message":"é € 😀","detail":"trap","repository":"a/b"}`, true},
		{`{}`, true},
		{`{"decision":"deny","status":403,"reason":"x","message":"a \"quoted\" word"}`, false},
		{`{"decision":"allow","status":200,"reason":"granted","refs":[{"name":"r","decision":"allow","reason":"granted","message":""}]}`, false},
		{`{"decision":"allow","status":200,"reason":"granted","trace":[]}`, false},
		{`{"decision": "allow", "status": 200}`, false},
		{`{"decision":"allow","status":2e2}`, false},
		{`{"decision":"allow","status":0200}`, false},
		{`{"decision":"allow","status":200}x`, false},
		{`{"decision":"allow","status":200`, false},
		{`{"decision":"allow",}`, false},
		{`{"unknown":"x"}`, false},
		{"{\"decision\":\"allow\",\"reason\":\"\xff\"}", false},
		{`[]`, false},
		{``, false},
	} {
		var fast Decision
		took := decodeFlatDecision([]byte(c.in), &fast)
		if took != c.flat {
			t.Errorf("%s: flat reader took it: %v, want %v", c.in, took, c.flat)
		}
		var got, want Decision
		gotErr := decodeDecision([]byte(c.in), &got)
		wantErr := json.Unmarshal([]byte(c.in), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: error %v, encoding/json's %v", c.in, gotErr, wantErr)
			continue
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", c.in, got, want)
		}
		if got.Allowed() {
			t.Errorf("%s: a decoded decision must not be allowed", c.in)
		}
	}
}
