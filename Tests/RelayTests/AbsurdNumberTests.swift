import CallEvents
import CallRelayCore
import Foundation
import Testing
import Xelion

@testable import Relay

/// Numbers from outside that fit no integer type are carried as they came, never converted with a
/// trap: one such value used to abort the process and every tenant with it.
@Suite("Absurd numbers from the PBX")
struct AbsurdNumberTests {
    @Test("a duration of 1e300 or 99999999999999999999, as text or as a number, leaves the typed field empty")
    func durations() throws {
        for duration in [#""1e300""#, #""99999999999999999999""#, "1e300", "99999999999999999999", "-1e19", #"" 1e300 ""#] {
            let text = #"{"notificationType":"callHungUpEvent","notification":{"callId":"c","duration":\#(duration)}}"#
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
                Issue.record("not decoded: \(duration)")
                continue
            }
            #expect(event.duration == nil, "\(duration)")
            let normalized = XelionMapping(tenant: "acme", includeRaw: true).normalize(event, receivedAt: Date())
            #expect(normalized.data.durationSeconds == nil)
            #expect(normalized.json().contains(#""duration":\#(duration)"#), "kept in raw as it came: \(duration)")
        }
    }

    @Test("whole numbers that fit are read, however they are written")
    func fitting() {
        #expect(JSONValue(json: #"{"n":42}"#)?["n"]?.integer == 42)
        #expect(JSONValue(json: #"{"n":4.2e1}"#)?["n"]?.integer == 42)
        #expect(JSONValue(json: #"{"n":"42"}"#)?["n"]?.integer == 42)
        #expect(JSONValue(json: #"{"n":-0}"#)?["n"]?.integer == 0)
        #expect(JSONValue(json: #"{"n":9223372036854775807}"#)?["n"]?.integer == Int.max)
        #expect(JSONValue(json: #"{"n":9223372036854775808}"#)?["n"]?.integer == nil)
        #expect(JSONValue(json: #"{"n":1.5}"#)?["n"]?.integer == nil)
    }

    @Test("an id past 2^53 keeps every digit, in text and in the JSON written")
    func bigIdentifiers() throws {
        let value = try #require(JSONValue(json: #"{"callId":9007199254740993,"big":123456789012345678901234567890}"#))
        #expect(value["callId"]?.text == "9007199254740993")
        #expect(value["big"]?.text == "123456789012345678901234567890")
        guard
            case .callEvent(let event) = XelionSocketMessage.decode(
                #"{"notificationType":"newCallEvent","notification":{"callId":9007199254740993}}"#)
        else {
            Issue.record("not decoded")
            return
        }
        #expect(event.callId == "9007199254740993")
    }

    @Test("a huge errorCode in a REST error body is no code at all")
    func errorCode() {
        let body = JSONValue(json: #"{"errorCode":1e300,"message":"x"}"#)
        #expect(body?["errorCode"]?.integer == nil)
        #expect(
            XelionError.from(status: 400, code: body?["errorCode"]?.integer, message: "x", retryAfter: nil)
                == .rejected(status: 400, code: nil, message: "x"))
    }

    @Test("the readable form shows any duration a journal row holds")
    func prettyDurations() {
        #expect(PrettyEventFormat.seconds(42) == "42 s")
        #expect(PrettyEventFormat.seconds(9.3e18).hasSuffix(" s"), "past 2^63")
        #expect(PrettyEventFormat.seconds(-9.3e18).hasSuffix(" s"))
        #expect(PrettyEventFormat.seconds(.infinity) == "? s")
    }
}
