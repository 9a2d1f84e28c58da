// Package queue turns the messages EventBridge puts on an SQS queue into
// typed notices for EC2 instances. It knows the shapes of the events AWS
// documents and nothing of Kubernetes or SQS's API: Parse is a pure function
// from a message body to a Message.
//
// Each kind of event, named by its (source, detail-type) pair, has one small
// parser, chosen from a table. An event of a kind not in the table is no
// error: Parse returns a Message of TypeUnknown with no notices, for the
// caller to count and drop. A body that is not an EventBridge event, or an
// event of a known kind with fields missing or wrong, is an error wrapping
// ErrMalformed.
package queue
