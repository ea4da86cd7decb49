// Package analyticstest provides a fake Customer.io Data Pipelines API for
// tests of code that uses github.com/cdpkit/analytics-go.
//
// NewServer starts the fake on a loopback address; NewTransport gives the
// same fake as an http.RoundTripper, without a socket. Both embed a
// Recorder, which holds what was received and scripts the answers:
//
//	func TestCheckout(t *testing.T) {
//		srv := analyticstest.NewServer(t, analyticstest.WithAPIKey("test-key"))
//		client, err := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer client.Close()
//
//		checkout(client, "user-42") // the code under test
//
//		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//		defer cancel()
//		if err := client.Flush(ctx); err != nil {
//			t.Fatal(err)
//		}
//		orders := srv.ByEvent("Order Completed")
//		if len(orders) != 1 || orders[0].UserID != "user-42" {
//			t.Errorf("Order Completed events: %v", orders)
//		}
//	}
//
// # The wire
//
// The fake serves POST /v1/batch only, with the API key as the basic-auth
// user name and an empty password, a JSON body of the form
// {"batch":[...],"sentAt":"..."}, optionally gzip-encoded. It enforces the
// API's size limits, MaxMessageBytes per message and MaxRequestBytes per
// decoded request body. A request that breaks a rule is recorded as a
// Violation and fails the test at once through t.Errorf, unless the fake was
// made WithViolationsAllowed. Violations are answered with an error status
// (see ViolationKind): a batch holding a call the API refuses, or over a
// size limit, is answered 400, and its violation names the message and the
// field (Violation.Message, Violation.Field).
//
// The fake checks what the API requires of each call: a track names its
// event, every call but a group names a person (userId or anonymousId; an
// identify may use traits.email), a group its groupId, an alias both
// previousId and userId, and a timestamp is RFC 3339. It does not check
// everything this library's client promises (a messageId, a timestamp and
// context.library on every message): assert those in your own tests if
// they matter to you.
//
// # The Journeys check
//
// The API accepts calls that Customer.io's Journeys destination then cannot
// act on: "User Deleted" without a userId deletes nobody, "Application
// Installed" without context.device.token registers no device, "Report
// Content Event" without an anonymousId is attributed to no one. The fake
// answers such a call as the API does, counts it as received, and records
// a ViolationJourneys naming the field the action reads, so the test fails
// where Customer.io would silently do nothing. The fields each action needs
// come from this module's event catalog. A call whose integrations keep it
// from the destination is not checked. WithJourneysCheck(false) turns the
// check off.
//
// # Requests and messages
//
// Requests returns every request, whatever its fate. Messages, and the
// helpers built on it (Find, ByType, ByEvent, ByUser, WaitForMessages),
// return only accepted messages: those of requests answered with a 2xx
// status that broke no rule. So a batch answered 500 and then sent again
// and answered 200 counts once, as it would in Customer.io.
//
// # Decoding messages
//
// Message.As, and the generic As and MessagesAs, decode a received message
// back into the struct of package analytics it was sent as: a core call,
// or a typed helper such as analytics.OrderCompleted, whose properties are
// mapped from the wire keys with the same event catalog the helpers are
// generated from. A test can then compare what was received with what its
// code sent:
//
//	orders, err := analyticstest.MessagesAs[analytics.OrderCompleted](srv.Recorder)
//
// # Scripting answers
//
// By default every valid request is answered 200. Script queues answers for
// the next requests, and SetDefault changes the answer given when the
// queue is empty:
//
//	srv.Script(
//		analyticstest.Response{Status: 500},
//		analyticstest.Response{Status: 429, RetryAfter: "1"},
//		analyticstest.Response{CloseConnection: true},
//		analyticstest.Response{Reset: true},
//		analyticstest.Response{Refuse: true}, // as if the API were not listening
//		analyticstest.Response{Delay: 2 * time.Second},
//		analyticstest.Response{Hang: true},
//		analyticstest.Response{Hold: release}, // answered once release is closed (or per value sent)
//	)
//	srv.SetDefault(analyticstest.Response{Status: 503})
//
// # Strict mode
//
// Like the API, the fake answers a batch holding an invalid call with 400
// when the request carries X-Strict-Mode: 1 (as package analytics sends by
// default), and otherwise answers as usual; either way the violation is
// recorded and the batch is not accepted. WithMessageRule adds a rule of
// the test's own, to make chosen messages invalid.
package analyticstest
