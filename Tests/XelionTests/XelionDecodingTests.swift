import CallRelayCore
import Foundation
import Testing
import Xelion

@Suite("Xelion decoding")
struct XelionDecodingTests {
    @Test("reads both date forms, a zone-less date in the given zone, never the machine's")
    func dates() throws {
        let utc = try #require(XelionDate.parse("2026-11-23 11:08:51"))
        #expect(utc.timeIntervalSince1970 == 1_795_432_131)
        #expect(XelionDate.parse("2026-11-23T11:08:51Z") == utc)
        #expect(XelionDate.parse("2026-11-23T12:08:51+01:00") == utc)
        #expect(XelionDate.parse("2026-11-23T12:08:51+0100") == utc)
        #expect(XelionDate.parse("2026-11-23T11:08:51.250Z")?.timeIntervalSince(utc) == 0.25)
        let amsterdam = try #require(TimeZone(identifier: "Europe/Amsterdam"))
        #expect(XelionDate.parse("2026-11-23 12:08:51", defaultZone: amsterdam) == utc)
        for bad in ["", "2026-11-23", "2026-13-01 00:00:00", "23-11-2026 11:08:51", "2026-11-23 11:08:51 junk"] {
            #expect(XelionDate.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("decodes a call event leniently: numbers as strings and strings as numbers, unknown fields kept")
    func lenientEvent() throws {
        let text = #"""
            {"notificationType":"callHungUpEvent","notification":{"initiation":"incoming","date":"2026-11-23 11:08:51",
             "callId":12345,"callerFlowId":"f1","calleeFlowId":7,"callerPhoneNumber":"+31201234567","calleeUser":"user-001",
             "duration":"42","somethingNew":{"a":1}}}
            """#
        guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
            Issue.record("not decoded as a call event")
            return
        }
        #expect(event.type == .callHungUpEvent)
        #expect(event.callId == "12345")
        #expect(event.calleeFlowId == "7")
        #expect(event.duration == 42)
        #expect(event.caller.phoneNumber == "+31201234567")
        #expect(event.callee.user == "user-001")
        #expect(event.callee.phoneNumber == nil)
        #expect(event.raw["somethingNew"] == .object(["a": .number(1)]))
        #expect(event.date()?.timeIntervalSince1970 == 1_795_432_131)
    }

    @Test("a numeric duration and a one-sided channel hangup decode too")
    func variants() {
        guard
            case .callEvent(let hangup) = XelionSocketMessage.decode(
                #"{"notificationType":"callHungUpEvent","notification":{"callId":"c","duration":42}}"#)
        else {
            Issue.record("not decoded")
            return
        }
        #expect(hangup.duration == 42)
        guard
            case .callEvent(let channel) = XelionSocketMessage.decode(
                #"{"notificationType":"channelHungUpEvent","notification":{"callId":"c","calleeUser":"u"}}"#)
        else {
            Issue.record("not decoded")
            return
        }
        #expect(channel.caller.isEmpty)
        #expect(channel.callee.user == "u")
    }

    @Test("sorts out echoes, unknown types and malformed input without throwing")
    func otherMessages() {
        #expect(XelionSocketMessage.decode(#"{"messageType":"test"}"#) == .livenessEcho)
        if case .otherNotification(let type, _) = XelionSocketMessage.decode(
            #"{"notificationType":"wallboardEvent","notification":{}}"#)
        {
            #expect(type == "wallboardEvent")
        } else {
            Issue.record("unknown types are passed on as such")
        }
        for bad in [
            "{", "[1,2]", #"{"notification":{}}"#, #"{"notificationType":"newCallEvent"}"#,
            #"{"notificationType":"newCallEvent","notification":{"date":"x"}}"#,
            #"{"notificationType":"newCallEvent","notification":3}"#,
        ] {
            guard case .malformed(let reason, let kept) = XelionSocketMessage.decode(bad) else {
                Issue.record("\(bad) must be malformed")
                continue
            }
            #expect(!reason.isEmpty)
            #expect(kept == bad, "the original text is kept for the dead-letter file")
        }
    }

    @Test("a repeated key counts with its last value, as a dictionary of the document would hold it")
    func repeatedKeys() {
        let text = #"""
            {"notificationType":"newCallEvent","notification":{"callId":"first","callerFlowId":"f","callId":"last"},
             "notification":{"callId":"really","callId":"really-last"}}
            """#
        guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
            Issue.record("not decoded")
            return
        }
        #expect(event.callId == "really-last")
        #expect(event.callerFlowId == nil, "the first notification object is replaced, not merged")
        #expect(event.raw == ["callId": "really-last"])
        #expect(event.notification == JSONObjectMembers(["callId": "really-last"]))
    }

    @Test("a notification's members come out in key order, the last of a repeated key kept, for keys alike for many bytes")
    func memberOrder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            // Keys of "a" and "b" only, so that many share their first eight bytes or are prefixes of others.
            let keys = (0..<30).map { _ in
                String((0..<Int.random(in: 1...20, using: &generator)).map { _ in Bool.random(using: &generator) ? "a" : "b" })
            }
            var expected: [String: Int] = ["callId": -1]
            var members = [#""callId":"c""#]
            for (index, key) in keys.enumerated() {
                expected[key] = index
                members.append(#""\#(key)":\#(index)"#)
            }
            let text = #"{"notificationType":"newCallEvent","notification":{\#(members.joined(separator: ","))}}"#
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
                Issue.record("not decoded: \(text)")
                return
            }
            #expect(event.notification.members.map(\.key) == expected.keys.sorted(), "\(text)")
            for member in event.notification.members where member.key != "callId" {
                #expect(member.value == .number(JSONNumber(expected[member.key] ?? -2)), "\(member.key) in \(text)")
            }
        }
    }

    @Test("every field is read by its key, written plainly or with escapes; a key that only resembles one is kept, not read")
    func fieldKeys() throws {
        let fields = [
            "callId", "initiation", "date", "callerFlowId", "calleeFlowId", "calleePhoneLineOid", "callerUser",
            "callerUserAddressable", "callerPhoneNumber", "callerAddressable", "callerAddressableSyncId",
            "callerAddressableSyncSource", "callerCallLogOid", "calleeUser", "calleeUserAddressable", "calleePhoneNumber",
            "calleeAddressable", "calleeAddressableSyncId", "calleeAddressableSyncSource", "calleeCallLogOid",
        ]
        // Same length and same first and last eight bytes as a field, different in the middle; and
        // a field's name with a byte more or less.
        let lookalikes = ["callerAdXressableSyncId", "calleeAdXressableSyncSource", "callIdx", "calle", "callerUse"]
        for escaped in [false, true] {
            var members = fields.map { key in
                // `\u0065` is "e": the same key, which the parser must not take for a different one.
                let written = escaped ? key.replacingOccurrences(of: "e", with: #"\u0065"#) : key
                return #""\#(written)":"v-\#(key)""#
            }
            members += lookalikes.map { #""\#($0)":"lookalike""# }
            let text = #"{"notificationType":"callHungUpEvent","notification":{\#(members.joined(separator: ","))}}"#
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
                Issue.record("not decoded: \(text)")
                return
            }
            let read: [String: String?] = [
                "callId": event.callId, "initiation": event.initiation, "date": event.dateText,
                "callerFlowId": event.callerFlowId, "calleeFlowId": event.calleeFlowId,
                "calleePhoneLineOid": event.calleePhoneLineOid, "callerUser": event.caller.user,
                "callerUserAddressable": event.caller.userAddressable, "callerPhoneNumber": event.caller.phoneNumber,
                "callerAddressable": event.caller.addressable, "callerAddressableSyncId": event.caller.addressableSyncId,
                "callerAddressableSyncSource": event.caller.addressableSyncSource, "callerCallLogOid": event.caller.callLogOid,
                "calleeUser": event.callee.user, "calleeUserAddressable": event.callee.userAddressable,
                "calleePhoneNumber": event.callee.phoneNumber, "calleeAddressable": event.callee.addressable,
                "calleeAddressableSyncId": event.callee.addressableSyncId,
                "calleeAddressableSyncSource": event.callee.addressableSyncSource, "calleeCallLogOid": event.callee.callLogOid,
            ]
            #expect(read.count == fields.count)
            for field in fields { #expect(read[field] == "v-\(field)", "\(field), escaped: \(escaped)") }
            #expect(event.notification.members.map(\.key) == (fields + lookalikes).sorted())
            for lookalike in lookalikes { #expect(event.raw[lookalike] == "lookalike") }
        }
    }

    @Test("tells text that is not JSON from JSON that is not an object")
    func notJSON() {
        for (text, reason) in [
            ("{", "not JSON"), ("[1,2", "not JSON"), ("[1,2] x", "not JSON"), ("[1,2]", "not a JSON object"),
            (#""text""#, "not a JSON object"),
        ] {
            #expect(XelionSocketMessage.decode(text) == .malformed(reason: reason, text: text), "\(text)")
        }
    }

    @Test("strings: escapes are read, and a control character or an unterminated string is refused, wherever it falls")
    func strings() {
        func decoded(_ callId: String) -> String? {
            let text = #"{"notificationType":"newCallEvent","notification":{"callId":"\#(callId)"}}"#
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else { return nil }
            return event.callId
        }
        for prefix in ["", "a", "abcdefg", "abcdefgh", "abcdefghijklmnopq"] {
            #expect(decoded(prefix + #"\"x\\y\/z\u00e9\ud83d\ude00"#) == prefix + "\"x\\y/zé😀")
            #expect(decoded(prefix + "\u{1}") == nil, "a raw control character after \(prefix.count) bytes")
            #expect(decoded(prefix + #"\ud83d"#) == nil, "a lone surrogate")
            let unterminated = #"{"notificationType":"newCallEvent","notification":{"callId":"\#(prefix)"#
            #expect(XelionSocketMessage.decode(unterminated) == .malformed(reason: "not JSON", text: unterminated))
        }
    }

    @Test("maps the PBX's error codes to what they mean")
    func errors() {
        #expect(XelionError.from(status: 401, code: 10004, message: "", retryAfter: nil) == .wrongCredentials)
        #expect(XelionError.from(status: 401, code: 10005, message: "", retryAfter: nil) == .alreadyLoggedIn)
        #expect(XelionError.from(status: 401, code: 10006, message: "", retryAfter: nil) == .accountDisabled)
        #expect(XelionError.from(status: 401, code: 10007, message: "", retryAfter: nil) == .passwordExpired)
        #expect(XelionError.from(status: 401, code: 10012, message: "", retryAfter: nil) == .multiFactorRequired)
        #expect(XelionError.from(status: 401, code: 10021, message: "", retryAfter: nil) == .notAuthenticated(code: 10021))
        #expect(
            XelionError.from(status: 429, code: 10402, message: "", retryAfter: .seconds(1))
                == .tooManyRequests(retryAfter: .seconds(1)))
        #expect(
            XelionError.from(status: 503, code: nil, message: "down", retryAfter: nil)
                == .serverError(status: 503, message: "down"))
        #expect(XelionError.from(status: 400, code: 10011, message: "userSpace", retryAfter: nil).needsOperator)
        #expect(XelionError.wrongCredentials.needsOperator)
        #expect(!XelionError.notAuthenticated(code: nil).needsOperator)
        #expect(!XelionError.tooManyRequests(retryAfter: nil).needsOperator)
    }

    @Test("the subscription request is the documented JSON")
    func subscription() throws {
        let text = XelionSocketRequest.subscribe("callHungUpEvent")
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(object?["messageType"] as? String == "notificationRequest")
        #expect(object?["notificationType"] as? String == "callHungUpEvent")
        #expect(object?["toggle"] as? Bool == true)
    }
}

@Suite("Impossible dates")
struct ImpossibleDateTests {
    @Test("February 31, April 31, February 29 of a common year, second 60 and an offset of +25:00 are refused, not rolled over")
    func refused() {
        for bad in [
            "2026-02-31 10:00:00", "2026-04-31 10:00:00", "2026-02-29 10:00:00", "2100-02-29 10:00:00",
            "2026-11-23 23:59:60", "2026-11-23T10:00:00+25:00", "2026-11-23T10:00:00+01:60", "2026-11-00 10:00:00",
        ] {
            #expect(XelionDate.parse(bad) == nil, "\(bad)")
        }
        #expect(XelionDate.parse("2028-02-29 10:00:00") != nil, "a leap year")
        #expect(XelionDate.parse("2000-02-29 10:00:00") != nil, "divisible by 400")
        #expect(XelionDate.parse("2026-12-31 23:59:59") != nil)
    }
}
