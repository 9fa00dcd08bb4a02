package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// maxDrain bounds how much of an unused body (404, error status) is read so the
// connection can be reused; the rest is discarded with the connection.
const maxDrain = 4 << 10

var errStoreClosed = errors.New("httpkv: store is closed")

// store is the kvcache.Store the extension hands out. It is read-only.
type store struct {
	e      *httpKV
	closed atomic.Bool
}

var (
	_ kvcache.Store    = (*store)(nil)
	_ kvcache.ReadOnly = (*store)(nil)
)

// ReadOnly implements kvcache.ReadOnly: the API is only read.
func (*store) ReadOnly() bool { return true }

// Set fails: the lookup API is read-only.
func (*store) Set(_ context.Context, entries []kvcache.Entry) error {
	return fmt.Errorf("httpkv: Set of %d entries: %w (an HTTP lookup API is only read)", len(entries), kvcache.ErrReadOnly)
}

// Delete fails: the lookup API is read-only.
func (*store) Delete(_ context.Context, keys []string) error {
	return fmt.Errorf("httpkv: Delete of %d keys: %w (an HTTP lookup API is only read)", len(keys), kvcache.ErrReadOnly)
}

// Close ends this store's use; the HTTP client belongs to the extension.
func (s *store) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}

// Get asks the API for the distinct keys: one POST in bulk mode, one GET per key
// (at most per_key::max_concurrency at once) in per_key mode. The first failing
// request fails the call and cancels the others.
func (s *store) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	if s.closed.Load() {
		return nil, errStoreClosed
	}
	e := s.e
	client, err := e.httpClient()
	if err != nil {
		return nil, err
	}
	uniq, idx := distinct(keys)
	var vals []kvcache.Result
	if e.cfg.Mode == ModeBulk {
		vals, err = e.getBulk(ctx, client, uniq)
	} else {
		vals, err = e.getPerKey(ctx, client, uniq)
	}
	e.telemetry.HttpkvKeysPerCall.Record(ctx, int64(len(uniq)), e.metrics.mode)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr) // the caller's cause, which Health sees
		}
		e.health.Failed(err) // not on the caller's cancellation; its deadline counts
		return nil, err
	}
	e.health.OK()
	out := make([]kvcache.Result, len(keys))
	for i, j := range idx {
		out[i] = vals[j]
	}
	return out, nil
}

// distinct returns the keys without repeats and, per key, its index in them.
func distinct(keys []string) (uniq []string, idx []int) {
	if len(keys) == 1 {
		return keys, []int{0}
	}
	pos := make(map[string]int, len(keys))
	idx = make([]int, len(keys))
	uniq = make([]string, 0, len(keys))
	for i, k := range keys {
		j, ok := pos[k]
		if !ok {
			j = len(uniq)
			pos[k] = j
			uniq = append(uniq, k)
		}
		idx[i] = j
	}
	return uniq, idx
}

// getPerKey sends one GET per key with at most cap(e.sem) in flight across the
// extension.
func (e *httpKV) getPerKey(ctx context.Context, client *http.Client, keys []string) ([]kvcache.Result, error) {
	res := make([]kvcache.Result, len(keys))
	if len(keys) == 1 {
		r, err := e.getOne(ctx, client, keys[0], 0, 1)
		res[0] = r
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(len(keys), cap(e.sem)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				r, err := e.getOne(ctx, client, keys[i], i, len(keys))
				if err != nil {
					once.Do(func() { firstErr = err })
					cancel()
					return
				}
				res[i] = r
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err() // cancelled between requests
	}
	return res, firstErr
}

// keyURL is the per_key URL of key: the template with the key escaped for where
// it stands ('/', '?', '%' and non-ASCII bytes are percent-encoded).
func (e *httpKV) keyURL(key string) string {
	if e.keyInQuery {
		return e.keyBefore + url.QueryEscape(key) + e.keyAfter
	}
	return e.keyBefore + url.PathEscape(key) + e.keyAfter
}

// getOne sends the GET of one key (number i of n, for errors: keys are not
// echoed, they may be personal data).
func (e *httpKV) getOne(ctx context.Context, client *http.Client, key string, i, n int) (kvcache.Result, error) {
	what := func() string {
		return fmt.Sprintf("httpkv: GET %s (key %d of %d)", e.cfg.PerKey.Path, i+1, n)
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return kvcache.Result{}, fmt.Errorf("%s: waiting for a free request slot: %w", what(), ctx.Err())
	}
	defer func() { <-e.sem }()

	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.keyURL(key), http.NoBody)
	if err != nil {
		return kvcache.Result{}, fmt.Errorf("%s: %w", what(), unwrapURLError(err))
	}
	body, status, err := e.do(client, req)
	switch {
	case err != nil:
		e.record(ctx, start, outcomeOf(err))
		return kvcache.Result{}, fmt.Errorf("%s: %w", what(), err)
	case status == http.StatusNotFound:
		e.record(ctx, start, outcomeNotFound)
		return kvcache.Result{}, nil
	}
	if e.ptr == nil {
		e.record(ctx, start, outcomeOK)
		return kvcache.Result{Value: body, Found: true}, nil
	}
	v, found, err := e.ptr.selectValue(body)
	if err != nil {
		e.record(ctx, start, outcomeInvalid)
		return kvcache.Result{}, fmt.Errorf("%s: value_pointer: response body is %w", what(), err)
	}
	e.record(ctx, start, outcomeOK)
	return kvcache.Result{Value: v, Found: found}, nil
}

// getBulk sends one POST {"<keys_field>": [keys]} and reads the answer, a JSON
// object key -> value; a key it lacks is not found. Keys that are not valid UTF-8
// cannot be carried by JSON faithfully: they are not sent and are not found.
func (e *httpKV) getBulk(ctx context.Context, client *http.Client, keys []string) ([]kvcache.Result, error) {
	what := "httpkv: POST " + e.cfg.Bulk.Path
	if e.cfg.Bulk.Path == "" {
		what = "httpkv: POST (endpoint)"
	}
	res := make([]kvcache.Result, len(keys))
	send := keys
	for _, k := range keys {
		if !utf8.ValidString(k) {
			send = validUTF8(keys)
			break
		}
	}
	if len(send) == 0 {
		return res, nil
	}
	start := time.Now()
	payload, err := json.Marshal(map[string][]string{e.cfg.Bulk.KeysField: send})
	if err != nil {
		return nil, fmt.Errorf("%s: encode keys: %w", what, err)
	}
	// A bytes.Reader body gets GetBody, so an auth RoundTripper can replay the
	// request after refreshing its token on a 401.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.bulkURL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	body, status, err := e.do(client, req)
	if err == nil && status != http.StatusOK {
		err = newStatusError(status) // 404 too: the bulk endpoint itself is missing
	}
	if err != nil {
		e.record(ctx, start, outcomeOf(err))
		return nil, fmt.Errorf("%s (%d keys): %w", what, len(send), err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		e.record(ctx, start, outcomeInvalid)
		return nil, fmt.Errorf("%s (%d keys): response is not a JSON object of key to value", what, len(send))
	}
	for i, k := range keys {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		v, found, err := e.ptr.selectValue(raw)
		if err != nil {
			e.record(ctx, start, outcomeInvalid)
			return nil, fmt.Errorf("%s: the value of key %d of %d is %w", what, i+1, len(keys), err)
		}
		res[i] = kvcache.Result{Value: v, Found: found}
	}
	e.record(ctx, start, outcomeOK)
	return res, nil
}

func validUTF8(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if utf8.ValidString(k) {
			out = append(out, k)
		}
	}
	return out
}

// do sends req and returns the body of a 200 (bounded by max_response_size), or
// the status of a 404 (body drained). Any other status is an error naming the
// status code; its body is never read into the error (it may echo secrets).
func (e *httpKV) do(client *http.Client, req *http.Request) ([]byte, int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, unwrapURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		if resp.StatusCode == http.StatusNotFound {
			return nil, resp.StatusCode, nil
		}
		return nil, resp.StatusCode, newStatusError(resp.StatusCode)
	}
	body, err := readBounded(resp, e.cfg.MaxResponseSize)
	return body, resp.StatusCode, err
}

// statusCodeError is an answer with a status other than 200 (or 404 per key).
type statusCodeError int

func newStatusError(code int) error { return statusCodeError(code) }

func (s statusCodeError) Error() string {
	text := http.StatusText(int(s)) // ours, not the server's reason phrase
	if text == "" {
		return "unexpected status " + strconv.Itoa(int(s))
	}
	return "unexpected status " + strconv.Itoa(int(s)) + " " + text
}

// tooLargeError is a body over max_response_size.
type tooLargeError int64

func (t tooLargeError) Error() string {
	return fmt.Sprintf("response body exceeds max_response_size (%d bytes)", int64(t))
}

// readBounded reads at most limit bytes of the body and fails if there are more.
func readBounded(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, tooLargeError(limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading response body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLargeError(limit)
	}
	return body, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text has the request URL
// (with the key in per_key mode).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
