package azureidentityauthext

import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth"

// Test views of the key set, so the server tests read the keys as before the
// validation moved to internal/jwtauth.

type testKeyState struct{ keys map[string]*jwtauth.Key }

func (ks *keySet) current() *testKeyState {
	st := ks.Current()
	if st == nil {
		return nil
	}
	return &testKeyState{keys: st.Keys}
}
