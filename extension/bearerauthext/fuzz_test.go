package bearerauthext

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
)

// FuzzAuthenticate drives header parsing and matching with arbitrary values
// and header shapes. Invariants: no panic; a success only for a value that is
// exactly "<scheme in any case> <configured token>" in a single header value,
// and then with that token's name as subject for a named token, and the
// context unchanged for an unnamed one; a refusal is always one of the
// fixed messages (so no input is ever echoed); the exact valid form always
// succeeds. Seed corpus: testdata/fuzz/FuzzAuthenticate.
func FuzzAuthenticate(f *testing.F) {
	for _, seed := range []struct {
		v    string
		mode uint8
	}{
		{"Bearer " + aliceToken, 0}, {"bearer " + bobToken, 1}, {"Bearer " + anonToken, 2},
		{"Bearer", 0}, {"Bearer ", 0}, {"Bearer  x", 0}, {"", 0}, {"Basic abc", 0}, {"Bearer a\r\nb", 0},
		{"Bearer tökén", 1}, {"Bearer ====", 0}, {"Bearer " + aliceToken, 3}, {"Bearer " + aliceToken, 4},
	} {
		f.Add(seed.v, seed.mode)
	}

	ext, err := newBearerAuth(serverConfig(), testSettings())
	if err != nil {
		f.Fatal(err)
	}
	if err := ext.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = ext.Shutdown(context.Background()) })

	names := map[string]string{aliceToken: "alice", bobToken: "bob", anonToken: ""} // "": unnamed
	r := ext.server.auth.errs
	fixed := map[string]bool{}
	for _, e := range []*authError{r.missing, r.several, r.empty, r.scheme, r.noToken, r.spacing, r.tooLong, r.badChars, r.unknown, r.notConfigured} {
		fixed[e.msg] = true
	}

	f.Fuzz(func(t *testing.T, v string, mode uint8) {
		var headers map[string][]string
		single := false
		switch mode % 5 {
		case 0:
			headers, single = map[string][]string{"Authorization": {v}}, true
		case 1:
			headers, single = map[string][]string{"authorization": {v}}, true
		case 2:
			headers = map[string][]string{"Authorization": {v}, "authorization": {v}}
		case 3:
			headers = map[string][]string{"Authorization": {v, v}}
		case 4:
			headers = map[string][]string{"X-Other": {v}}
		}
		in := context.Background()
		ctx, err := ext.Authenticate(in, headers)

		scheme, tok, cut := strings.Cut(v, " ")
		wantName, known := names[tok]
		valid := single && cut && strings.EqualFold(scheme, "Bearer") && len(scheme) == len("Bearer") && known
		if err != nil {
			if valid {
				t.Fatalf("valid header refused: %v", err)
			}
			if !fixed[err.Error()] {
				t.Fatalf("refusal is not a fixed message: %q", err.Error())
			}
			return
		}
		if !valid {
			t.Fatalf("accepted an invalid header (mode %d, %d bytes)", mode%5, len(v))
		}
		if wantName == "" {
			if ctx != in || client.FromContext(ctx).Auth != nil {
				t.Fatalf("an unnamed token changed the context")
			}
			return
		}
		if got := client.FromContext(ctx).Auth.GetAttribute("subject"); got != wantName {
			t.Fatalf("subject %v, want %s", got, wantName)
		}
	})
}
