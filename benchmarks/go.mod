module github.com/cdpkit/analytics-go/benchmarks

go 1.25

require (
	github.com/cdpkit/analytics-go v0.0.0
	github.com/posthog/posthog-go v1.5.2
	gopkg.in/segmentio/analytics-go.v3 v3.1.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	github.com/segmentio/backo-go v1.1.0 // indirect
	github.com/xtgo/uuid v0.0.0-20140804021211-a0b114877d4c // indirect
)

// The library under test is always the working tree around this module.
replace github.com/cdpkit/analytics-go => ../
