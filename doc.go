// Package analytics is a client for the Customer.io Data Pipelines (CDP)
// API: it sends people, events and objects to Customer.io from Go
// services, scripts and tests.
//
// Create one [Client] at start-up with [New], share it between goroutines,
// send messages with [Client.Enqueue], and call [Client.Close] before the
// program exits:
//
//	client, err := analytics.New(os.Getenv("CDP_API_KEY"), analytics.WithRegion(analytics.RegionEU))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer client.Close()
//
//	err = client.Enqueue(analytics.Track{
//		UserID:     "42",
//		Event:      "Course Started",
//		Properties: analytics.Properties{"title": "Intro to Customer.io"},
//	})
//
// Enqueue validates and encodes the message at once and never waits on the
// network; a background goroutine sends messages in batches, retrying
// failures. Every message that is not delivered is counted in Stats,
// logged, passed to the WithCallback function, and reported by the next
// Flush, Shutdown or Close.
//
// Most of this package's names are the typed helpers, one per event of the
// specification. The rest, by purpose:
//
//   - The client: [New], [Client] and its methods [Client.Enqueue],
//     [Client.EnqueueContext], [Client.Flush], [Client.Shutdown],
//     [Client.Close] and [Client.Stats] ([Stats]).
//   - Where it sends: [WithRegion] ([RegionUS], [RegionEU]),
//     [WithEndpoint], [WithHTTPClient], [WithAllowHTTP].
//   - Batching and memory: [WithBatchSize], [WithFlushInterval],
//     [WithQueueCapacity], [WithQueueMaxBytes], [WithMaxInFlight], and the
//     defaults and limits ([DefaultBatchSize], [MaxMessageBytes],
//     [MaxBatchBytes], …).
//   - Delivery: [WithRetry] ([RetryPolicy]), [WithRequestTimeout],
//     [WithShutdownTimeout], [WithStrictMode], [WithGzip], and the durable
//     spool: [WithSpool], [WithSpoolSync], [WithSpoolMaxBytes],
//     [InspectSpool].
//   - Outcomes: [WithCallback] ([Result]), [WithLogger], the errors
//     ([ErrClosed], [ErrQueueFull], [ErrMessageTooLarge],
//     [ErrInvalidMessage] and [ValidationError], [DeliveryError],
//     [APIError], [ErrSpoolLost]). Package otelanalytics, a module of its
//     own, exports Stats as OpenTelemetry metrics.
//   - The core calls: [Identify], [Track], [Page], [Screen], [Group] and
//     [Alias], with [Traits], [Properties], [Integrations] and [Context].
//   - The typed helpers, by family: Customer.io's actions ([DeletePerson],
//     [SuppressPerson], [CreateOrUpdateDevice], …), ecommerce
//     ([OrderCompleted], [ProductViewed], …), video
//     ([VideoPlaybackStarted], …), email ([EmailOpened], …), mobile
//     lifecycle ([ApplicationInstalled], …), live chat
//     ([LiveChatMessageSent], …) and A/B tests ([ExperimentViewed]); [Ptr]
//     makes their number and boolean fields.
//   - Shaping: [WithDefaultContext], [WithTransform] ([Envelope],
//     [RedactKeys], [DropEvents], [SampleEvents], [AnonymizeIP]),
//     [Middleware] and [ContextFromRequest] for HTTP servers.
//   - Tests and development: [WithTimestamps] and [WithMessageIDs] for
//     deterministic messages, [WithOutput] to write messages instead of
//     sending them, and package analyticstest, a fake Data Pipelines API
//     with a recorder to assert on.
//
// # Messages
//
// The core calls are Identify (create or update a person), Track (an
// event), Page, Screen, Group (create or update an object and relate a
// person to it) and Alias (merge two people).
//
// # Typed helpers
//
// Besides the core calls there is one typed helper per event of the
// specification and per Customer.io action: a struct that is itself a
// Message, sent as a track call with the event name the specification
// gives, byte for byte. The Customer.io actions are DeletePerson ("User
// Deleted"), SuppressPerson, UnsuppressPerson, CreateOrUpdateDevice,
// DeleteDevice, DeleteRelationship, DeleteObject, ReportDeliveryEvent and
// ReportContentEvent; creating or updating a person or an object and
// merging people are Identify, Group and Alias. The semantic events
// (ecommerce, video, email, mobile lifecycle, live chat, A/B tests) are
// named after the event: OrderCompleted, VideoPlaybackStarted,
// EmailMarkedAsSpam, ApplicationInstalled, ExperimentViewed and so on.
//
// Each helper has UserID and AnonymousID (and Email where Customer.io lets
// a person be named by email), one field per documented property, sent
// under the specification's key (SKU as "sku"), Extra for other properties
// (a field that is set wins over the same key in Extra), and Timestamp,
// Context, Integrations and MessageID as in Track. Enqueue checks what the
// specification requires: required fields, documented values (such as
// DeviceTypeIOS), ranges (a video's sound is 0 to 100). Its error names the
// event and the field's wire path, such as properties.products[1].price.
// The helpers are generated, by go generate, from the catalog of the
// specification in internal/catalog.
//
// # Explicit zero values
//
// An empty string field of a helper is not sent. Numbers, integers and
// booleans are pointers, so that a zero that means something is sent (the
// price of a free item, playback position 0, full_screen false) while nil
// is not sent. Ptr makes the pointers:
//
//	err := client.Enqueue(analytics.OrderCompleted{
//		UserID: "42",
//		Products: []analytics.Product{
//			{ProductID: "gift-wrap", Price: analytics.Ptr(0.0)}, // "price": 0
//			{ProductID: "sku-1"},                              // no price
//		},
//	})
//
// Nil slices and maps and zero times are not sent either. To send null (a
// video's total_length on a livestream), leave the field nil and set the
// key to nil in Extra.
//
// # Limits
//
// The API drops, with a 200 answer, a message over 32 KB or a request over
// 500 KB. The client never sends either: Enqueue rejects a message over
// MaxMessageBytes with ErrMessageTooLarge, and batches are cut before they
// exceed MaxBatchBytes.
//
// # Shaping what you send
//
// WithDefaultContext merges a context into every message. WithTransform
// passes every message, as an Envelope, through functions that may change,
// redact or drop it (RedactKeys, DropEvents, SampleEvents, AnonymizeIP, or
// a function of one's own) before it is validated and encoded; a transform
// that panics refuses its message instead of letting it through.
// Middleware (or ContextFromRequest) takes an HTTP request's IP address,
// trusting forwarding headers only from the proxies it is given, user
// agent, locale and page, for EnqueueContext to merge into the messages
// sent on the request's behalf. WithOutput writes messages as lines of
// JSON instead of sending them, for development and for hosts with no
// route to the API.
package analytics
