package analytics_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	analytics "github.com/cdpkit/analytics-go"
	"github.com/cdpkit/analytics-go/analyticstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewRejectsBadOptions: every bad value is an error from New that names
// the option, never a panic later.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opt  analytics.Option
		want string
	}{
		"unknown region":           {analytics.WithRegion("ap"), "WithRegion"},
		"endpoint not a URL":       {analytics.WithEndpoint("://nope"), "WithEndpoint"},
		"endpoint without scheme":  {analytics.WithEndpoint("cdp.customer.io/v1"), "WithEndpoint"},
		"endpoint ftp":             {analytics.WithEndpoint("ftp://cdp.customer.io/v1"), "WithEndpoint"},
		"endpoint without host":    {analytics.WithEndpoint("https:///v1"), "WithEndpoint"},
		"endpoint credentials":     {analytics.WithEndpoint("https://user:secret@cdp.customer.io/v1"), "WithEndpoint"},
		"endpoint query":           {analytics.WithEndpoint("https://cdp.customer.io/v1?x=1"), "WithEndpoint"},
		"endpoint fragment":        {analytics.WithEndpoint("https://cdp.customer.io/v1#f"), "WithEndpoint"},
		"http to a remote host":    {analytics.WithEndpoint("http://cdp.customer.io/v1"), "clear text"},
		"batch size zero":          {analytics.WithBatchSize(0), "WithBatchSize"},
		"batch size too large":     {analytics.WithBatchSize(analytics.MaxBatchSize + 1), "WithBatchSize"},
		"zero interval":            {analytics.WithFlushInterval(0), "WithFlushInterval"},
		"negative interval":        {analytics.WithFlushInterval(-time.Second), "WithFlushInterval"},
		"nil HTTP client":          {analytics.WithHTTPClient(nil), "WithHTTPClient"},
		"nil logger":               {analytics.WithLogger(nil), "WithLogger"},
		"queue capacity zero":      {analytics.WithQueueCapacity(0), "WithQueueCapacity"},
		"queue bytes below a call": {analytics.WithQueueMaxBytes(analytics.MaxMessageBytes - 1), "WithQueueMaxBytes"},
		"in flight zero":           {analytics.WithMaxInFlight(0), "WithMaxInFlight"},
		"in flight too many":       {analytics.WithMaxInFlight(65), "WithMaxInFlight"},
		"attempts zero":            {analytics.WithMaxAttempts(0), "WithMaxAttempts"},
		"retry wait inverted":      {analytics.WithRetryWait(time.Second, time.Millisecond), "WithRetryWait"},
		"retry wait zero":          {analytics.WithRetryWait(0, time.Second), "WithRetryWait"},
		"retry-after cap zero":     {analytics.WithMaxRetryAfter(0), "WithMaxRetryAfter"},
		"retry time zero":          {analytics.WithMaxRetryTime(0), "WithMaxRetryTime"},
		"request timeout zero":     {analytics.WithRequestTimeout(0), "WithRequestTimeout"},
		"shutdown timeout zero":    {analytics.WithShutdownTimeout(0), "WithShutdownTimeout"},
		"nil callback":             {analytics.WithCallback(nil), "WithCallback"},
		"nil clock":                {analytics.WithClock(nil), "WithClock"},
		"nil id generator":         {analytics.WithMessageIDs(nil), "WithMessageIDs"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := analytics.New(testKey, tc.opt)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestNewRejectsEmptyKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "   "} {
		c, err := analytics.New(key)
		require.Error(t, err)
		assert.Nil(t, c)
	}
}

// TestEndpoints checks where batches go for each way of naming the API.
func TestEndpoints(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		opts []analytics.Option
		want string
	}{
		"default is US":             {nil, "https://cdp.customer.io/v1/batch"},
		"US":                        {[]analytics.Option{analytics.WithRegion(analytics.RegionUS)}, "https://cdp.customer.io/v1/batch"},
		"EU":                        {[]analytics.Option{analytics.WithRegion(analytics.RegionEU)}, "https://cdp-eu.customer.io/v1/batch"},
		"base with /v1":             {[]analytics.Option{analytics.WithEndpoint("https://cdp-eu.customer.io/v1")}, "https://cdp-eu.customer.io/v1/batch"},
		"base with trailing /":      {[]analytics.Option{analytics.WithEndpoint("https://cdp-eu.customer.io/v1/")}, "https://cdp-eu.customer.io/v1/batch"},
		"bare host means /v1":       {[]analytics.Option{analytics.WithEndpoint("https://cdp-eu.customer.io")}, "https://cdp-eu.customer.io/v1/batch"},
		"bare host with /":          {[]analytics.Option{analytics.WithEndpoint("https://cdp-eu.customer.io/")}, "https://cdp-eu.customer.io/v1/batch"},
		"proxy path":                {[]analytics.Option{analytics.WithEndpoint("https://proxy.example.com/cdp/v1")}, "https://proxy.example.com/cdp/v1/batch"},
		"http loopback":             {[]analytics.Option{analytics.WithEndpoint("http://127.0.0.1:8080/v1")}, "http://127.0.0.1:8080/v1/batch"},
		"http localhost":            {[]analytics.Option{analytics.WithEndpoint("http://localhost:8080")}, "http://localhost:8080/v1/batch"},
		"http IPv6 loopback":        {[]analytics.Option{analytics.WithEndpoint("http://[::1]:8080/v1")}, "http://[::1]:8080/v1/batch"},
		"http remote, opted in":     {[]analytics.Option{analytics.WithEndpoint("http://collector.internal/v1"), analytics.WithAllowHTTP(true)}, "http://collector.internal/v1/batch"},
		"last endpoint option wins": {[]analytics.Option{analytics.WithRegion(analytics.RegionEU), analytics.WithEndpoint("https://example.com/v1")}, "https://example.com/v1/batch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rt := &urlRecorder{}
			opts := append([]analytics.Option{
				analytics.WithHTTPClient(&http.Client{Transport: rt}),
				analytics.WithLogger(quietLogger()),
				analytics.WithMaxAttempts(1),
			}, tc.opts...)
			c, err := analytics.New(testKey, opts...)
			require.NoError(t, err)
			require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
			require.NoError(t, c.Flush(bounded(t)))
			require.NoError(t, c.Close())
			assert.Equal(t, tc.want, rt.url)
		})
	}
}

// urlRecorder answers 200 to everything and remembers the last URL. The
// public fake cannot stand in: it serves the API's path only, and the
// "proxy path" row sends elsewhere.
type urlRecorder struct{ url string }

func (u *urlRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	u.url = r.URL.String()
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

// TestWithHTTPClientNotModified: the caller's client is used but never
// changed.
func TestWithHTTPClientNotModified(t *testing.T) {
	t.Parallel()
	rt := analyticstest.NewTransport(t)
	hc := &http.Client{Transport: rt}
	c, err := analytics.New(testKey, analytics.WithHTTPClient(hc), analytics.WithLogger(quietLogger()))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(analytics.Track{UserID: "u", Event: "E"}))
	require.NoError(t, c.Close())
	assert.Equal(t, time.Duration(0), hc.Timeout)
	assert.Same(t, rt, hc.Transport)
	reqs := rt.Requests()
	require.Len(t, reqs, 1)
	assert.True(t, strings.HasSuffix(reqs[0].Path, "/v1/batch"))
}
