module github.com/cdpkit/analytics-go/cmd/cdp

go 1.25.0

require (
	github.com/cdpkit/analytics-go v0.3.0
	github.com/creack/pty v1.1.24
	github.com/klauspost/compress v1.18.2
	golang.org/x/term v0.44.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	golang.org/x/sys v0.46.0 // indirect
)

