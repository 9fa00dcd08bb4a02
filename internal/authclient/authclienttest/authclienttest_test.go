package authclienttest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTransportAnswersWithoutNetwork(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusTeapot, Body: http.NoBody}
	tr := NewTransport(Responder{Response: resp})
	for _, u := range []string{"http://127.0.0.1:1/v1/traces", "https://ingest.invalid/v1/logs"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u, http.NoBody)
		require.NoError(t, err)
		got, err := tr.RoundTrip(req)
		require.NoError(t, err, u)
		assert.Same(t, resp, got, u)
	}
	// The Transport's own checks still run.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:1/", http.NoBody)
	require.NoError(t, err)
	req.Header["Bad\nName"] = []string{"x"}
	_, err = tr.RoundTrip(req)
	require.ErrorContains(t, err, "invalid header")

	got, err := Responder{Response: resp}.RoundTrip(req)
	require.NoError(t, err)
	assert.Same(t, resp, got)
}

func TestFloors(t *testing.T) {
	var got *http.Request
	base := rtFunc(func(r *http.Request) (*http.Response, error) { got = r; return nil, nil })
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:1/", http.NoBody)
	require.NoError(t, err)
	prepared := req.Clone(context.Background())
	prepared.Header.Set("Authorization", "Bearer x")

	_, err = Floor{Base: base, Prepared: prepared}.RoundTrip(req)
	require.NoError(t, err)
	assert.Same(t, prepared, got)

	_, err = CopyFloor{Base: base, Header: prepared.Header}.RoundTrip(req)
	require.NoError(t, err)
	assert.NotSame(t, req, got)
	assert.Equal(t, "Bearer x", got.Header.Get("Authorization"))
	assert.Empty(t, req.Header, "the caller's request is untouched")
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFastRefreshIsValid(t *testing.T) {
	cfg := FastRefresh()
	require.NoError(t, cfg.Validate())
	assert.Less(t, cfg.MaxBackoff, time.Second, "failure tests wait for a few backoffs")
}

func TestTokenIsRealisticAndDistinct(t *testing.T) {
	assert.Len(t, Token(0), 44)
	assert.NotEqual(t, Token(0), Token(1))
}

func TestRecordingServer(t *testing.T) {
	srv, seen := RecordingServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	for _, auth := range []string{"Bearer a", ""} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, http.NoBody)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "h answers")
	}
	assert.Equal(t, []string{"Bearer a", ""}, seen())
}
