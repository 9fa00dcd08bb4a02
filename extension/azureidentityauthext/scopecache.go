package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
)

const (
	// scopeCacheSize bounds the tokens cached for other scopes/tenants.
	scopeCacheSize = 256
	// scopeRefreshLead is how long before expiry a cached token is dropped
	// (at most half its lifetime); the same lead azidentity uses.
	scopeRefreshLead = 5 * time.Minute
)

type scopeKey struct {
	scopes string // sorted, space separated
	tenant string
	cae    bool
}

// scopeCache serves azcore.TokenCredential requests for scopes other than the
// configured ones: otter single-flights concurrent misses of one key, and
// entries expire shortly before the token does, so a hit never returns a
// token about to expire.
type scopeCache struct {
	cred    azcore.TokenCredential
	info    credentialInfo
	timeout time.Duration
	cache   *otter.Cache[scopeKey, azcore.AccessToken]
	tb      *metadata.TelemetryBuilder
	success metric.AddOption
	failure metric.AddOption
}

// noTickClock is otter's clock without ticks. With ticks, a cache with
// expiration runs a clean-up goroutine that only ends once the cache is
// garbage collected, which outlives the extension (and fails goleak). Without
// them, expired entries are never returned and are dropped by the
// maintenance that follows writes; the cache is small and size-bounded.
type noTickClock struct{}

func (noTickClock) NowNano() int64                      { return time.Now().UnixNano() }
func (noTickClock) Tick(time.Duration) <-chan time.Time { return nil }

func newScopeCache(cred azcore.TokenCredential, info credentialInfo, timeout time.Duration, tb *metadata.TelemetryBuilder) *scopeCache {
	return &scopeCache{
		cred:    cred,
		info:    info,
		timeout: timeout,
		cache: otter.Must(&otter.Options[scopeKey, azcore.AccessToken]{
			MaximumSize: scopeCacheSize,
			ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[scopeKey, azcore.AccessToken]) time.Duration {
				return max(time.Until(refreshPoint(e.Value)), time.Nanosecond)
			}),
			Clock: noTickClock{},
		}),
		tb:      tb,
		success: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "success"))),
		failure: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failure"))),
	}
}

// refreshPoint is when a cached token stops being served: RefreshOn when
// set, else scopeRefreshLead (at most half the remaining lifetime) before
// expiry.
func refreshPoint(at azcore.AccessToken) time.Time {
	lead := min(scopeRefreshLead, time.Until(at.ExpiresOn)/2)
	p := at.ExpiresOn.Add(-lead)
	if !at.RefreshOn.IsZero() && at.RefreshOn.Before(p) {
		p = at.RefreshOn
	}
	return p
}

func (sc *scopeCache) get(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	sorted := slices.Sorted(slices.Values(opts.Scopes))
	key := scopeKey{scopes: strings.Join(sorted, " "), tenant: strings.ToLower(opts.TenantID), cae: opts.EnableCAE}
	return sc.cache.Get(ctx, key, otter.LoaderFunc[scopeKey, azcore.AccessToken](
		func(ctx context.Context, _ scopeKey) (azcore.AccessToken, error) {
			return sc.fetch(ctx, opts)
		}))
}

// fetch asks azidentity, bounded by the configured timeout.
func (sc *scopeCache) fetch(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	ctx, cancel := context.WithTimeout(ctx, sc.timeout)
	defer cancel()
	at, err := sc.cred.GetToken(ctx, opts)
	if err != nil {
		sc.tb.AzureidentityauthClientOtherScopeFetches.Add(ctx, 1, sc.failure)
		return at, fetchError(ctx, sc.info, opts.Scopes, err)
	}
	sc.tb.AzureidentityauthClientOtherScopeFetches.Add(ctx, 1, sc.success)
	return at, nil
}
