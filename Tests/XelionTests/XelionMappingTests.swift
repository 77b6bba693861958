import CallEvents
import CallRelayCore
import Foundation
import Testing
import Xelion

/// The Xelion mapping as a CRM sees its output.
@Suite("Xelion events, normalized")
struct XelionMappingTests {
    let mapping = XelionMapping(tenant: "acme")
    let received = Date(timeIntervalSince1970: 1_800_000_000.123)

    func event(_ type: XelionCallEventType, _ fields: [String: JSONValue]) throws -> XelionCallEvent {
        var object: [String: JSONValue] = [
            "initiation": "incoming", "date": "2026-11-27 08:00:05", "callId": "call-1",
            "callerFlowId": "flow-c", "calleeFlowId": "flow-a",
            "callerPhoneNumber": "+31 20 123 4567", "calleePhoneNumber": "+31880001001", "calleeUser": "anna",
        ]
        for (key, value) in fields { object[key] = value }
        return try XelionCallEvent(type: type, notification: .object(object))
    }

    @Test("a hangup becomes call.ended with a numeric duration, E.164 numbers and the envelope filled")
    func hangup() throws {
        let normalized = mapping.normalize(try event(.callHungUpEvent, ["duration": "42"]), receivedAt: received)
        #expect(normalized.type == .ended)
        #expect(normalized.specversion == "1.0")
        #expect(normalized.source == "/tenants/acme/xelion")
        #expect(normalized.subject == "call-1")
        #expect(normalized.data.durationSeconds == 42)
        #expect(normalized.data.caller?.number == "+31 20 123 4567")
        #expect(normalized.data.caller?.numberE164 == "+31201234567")
        #expect(normalized.data.callee?.user == "anna")
        #expect(normalized.data.direction == .inbound)
        #expect(RFC3339.string(normalized.time) == "2026-11-27T08:00:05.000Z")
        #expect(RFC3339.string(normalized.data.receivedAt) == "2027-01-15T08:00:00.123Z")
        let json = normalized.json()
        #expect(json.hasPrefix(#"{"specversion":"1.0","id":"evt_"#))
        #expect(json.contains(#""duration_seconds":42"#))
        #expect(!json.contains("raw"), "the raw payload only when configured")
    }

    @Test("duration sent as a number is the same as sent as text")
    func durationAsNumber() throws {
        let text = mapping.normalize(try event(.callHungUpEvent, ["duration": "42"]), receivedAt: received)
        let number = mapping.normalize(try event(.callHungUpEvent, ["duration": .number(42)]), receivedAt: received)
        #expect(text.data.durationSeconds == number.data.durationSeconds)
    }

    @Test("both date forms; a zone-less date in the tenant's configured zone")
    func dates() throws {
        let iso = mapping.normalize(try event(.newCallEvent, ["date": "2026-11-27T09:00:05+01:00"]), receivedAt: received)
        #expect(RFC3339.string(iso.time) == "2026-11-27T08:00:05.000Z")
        let amsterdam = XelionMapping(tenant: "acme", timeZone: try #require(TimeZone(identifier: "Europe/Amsterdam")))
        let local = amsterdam.normalize(try event(.newCallEvent, [:]), receivedAt: received)
        #expect(RFC3339.string(local.time) == "2026-11-27T07:00:05.000Z", "08:00 in Amsterdam in winter is 07:00 UTC")
        let summer = amsterdam.normalize(try event(.newCallEvent, ["date": "2026-07-01 08:00:00"]), receivedAt: received)
        #expect(RFC3339.string(summer.time) == "2026-07-01T06:00:00.000Z")
        let unreadable = mapping.normalize(try event(.newCallEvent, ["date": "yesterday"]), receivedAt: received)
        #expect(unreadable.data.occurredAt == nil)
        #expect(unreadable.time == unreadable.data.receivedAt, "time falls back to when we received it")
    }

    @Test("direction from initiation; two users talking is internal")
    func direction() throws {
        let outgoing = mapping.normalize(
            try event(.newCallEvent, ["initiation": "outgoing", "calleeUser": .null]), receivedAt: received)
        #expect(outgoing.data.direction == .outbound)
        let shouting = mapping.normalize(
            try event(.newCallEvent, ["initiation": "INCOMING", "calleeUser": .null]), receivedAt: received)
        #expect(shouting.data.direction == .inbound)
        let internalCall = mapping.normalize(try event(.newCallEvent, ["callerUser": "bob"]), receivedAt: received)
        #expect(internalCall.data.direction == .internal)
        let unknown = mapping.normalize(
            try event(.newCallEvent, ["initiation": .null, "calleeUser": .null]), receivedAt: received)
        #expect(unknown.data.direction == .unknown)
    }

    @Test("the one-sided channelHungUpEvent keeps only the side the PBX filled")
    func channelHangup() throws {
        let object: [String: JSONValue] = [
            "initiation": "incoming", "date": "2026-11-27 08:00:05", "callId": "call-1",
            "calleeFlowId": "flow-a", "calleePhoneNumber": "+31880001001", "calleeUser": "anna",
        ]
        let normalized = mapping.normalize(
            try XelionCallEvent(type: .channelHungUpEvent, notification: .object(object)), receivedAt: received)
        #expect(normalized.type == .channelEnded)
        #expect(normalized.data.caller == nil)
        #expect(normalized.data.callee?.flowId == "flow-a")
    }

    @Test("ids are stable; a hangup's id ignores its date, other types' ids do not")
    func identity() throws {
        let hangup = try event(.callHungUpEvent, ["duration": "42"])
        var later = hangup
        later.dateText = "2026-11-27 08:00:09"
        later.raw["date"] = "2026-11-27 08:00:09"
        #expect(mapping.normalize(hangup, receivedAt: received).id == mapping.normalize(later, receivedAt: .now).id)
        let otherFlows = try event(.callHungUpEvent, ["duration": "42", "calleeFlowId": "flow-b"])
        #expect(mapping.normalize(hangup, receivedAt: received).id != mapping.normalize(otherFlows, receivedAt: received).id)
        let connected = try event(.callConnectedEvent, [:])
        let connectedLater = try event(.callConnectedEvent, ["date": "2026-11-27 08:00:09"])
        #expect(mapping.normalize(connected, receivedAt: received).id == mapping.normalize(connected, receivedAt: .now).id)
        #expect(
            mapping.normalize(connected, receivedAt: received).id != mapping.normalize(connectedLater, receivedAt: received).id)
        let otherTenant = XelionMapping(tenant: "globex")
        #expect(mapping.normalize(hangup, receivedAt: received).id != otherTenant.normalize(hangup, receivedAt: received).id)
    }

    @Test("include_raw keeps the PBX's payload, keys sorted")
    func raw() throws {
        let withRaw = XelionMapping(tenant: "acme", includeRaw: true)
        let normalized = withRaw.normalize(
            try event(.callHungUpEvent, ["duration": "42", "extra": "kept"]), receivedAt: received)
        #expect(normalized.data.raw?["extra"] == .string("kept"))
        #expect(normalized.json().contains(#""raw":{"callId":"call-1","calleeFlowId":"flow-a","#))
    }

    @Test("a notification's canonical JSON from its sorted members is the dictionary's, nested objects and all")
    func canonicalMembers() {
        let text = #"""
            {"notificationType":"newCallEvent","notification":{"zeta":1,"callId":"c","Ärger":"x","b":{"y":[1,{"k":2,"a":1}],"a":null},
             "a":"\"quoted\"","callerFlowId":"f"}}
            """#
        guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
            Issue.record("not decoded")
            return
        }
        #expect(event.notification.canonicalUTF8 == JSONValue.object(event.raw).canonicalUTF8)
        #expect(event.notification.members.map(\.key) == ["a", "b", "callId", "callerFlowId", "zeta", "Ärger"])
    }

    @Test("every character that JSON must escape is escaped wherever it falls in a value, and nothing else")
    func escaping() throws {
        var empty = mapping.normalize(try self.event(.callHungUpEvent, [:]), receivedAt: received)
        empty.data.callId = ""
        #expect(empty.json().contains(#""call_id":"","#))
        let specials = (0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) } + ["\"", "\\", "é", "/", "\u{7F}"]
        for special in specials {
            for length in 1...20 {
                for position in 0..<length {
                    var text = Array(repeating: Character("a"), count: length)
                    text[position] = special
                    var event = mapping.normalize(try self.event(.callHungUpEvent, [:]), receivedAt: received)
                    event.data.callId = String(text)
                    let json = event.json()
                    let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                    let data = object?["data"] as? [String: Any]
                    #expect(data?["call_id"] as? String == String(text), "\(json)")
                    // Only what JSON requires is escaped, in its short form where it has one; the rest
                    // is written as it is.
                    let expected = text.map { character -> String in
                        switch character {
                        case "\"": return "\\\""
                        case "\\": return "\\\\"
                        case "\n": return "\\n"
                        case "\r": return "\\r"
                        case "\t": return "\\t"
                        case _ where (character.asciiValue ?? 0x20) < 0x20:
                            return String(format: "\\u%04x", Int(character.asciiValue ?? 0))
                        default: return String(character)
                        }
                    }
                    #expect(json.contains(#""call_id":"\#(expected.joined())","#), "\(json)")
                }
            }
        }
    }

    @Test("the JSON reads back to the same event, for every field and awkward text")
    func roundTrip() throws {
        var normalized = XelionMapping(tenant: "acme", includeRaw: true).normalize(
            try event(.callHungUpEvent, ["duration": "42", "calleeUser": "Zoë \"the\" \\ agent\n\u{1}"]), receivedAt: received)
        normalized.data.legs = [CallLeg(id: "leg-1", party: CallParty(number: "0031201234567"))]
        normalized.data.dtmf = [DTMFInput(digits: "6", at: received, label: "menu")]
        normalized.data.talkSeconds = 12.5
        normalized.data.recordingURL = "https://example.com/rec.mp3"
        let decoded = try CallEvent.decode(json: normalized.json())
        #expect(decoded == normalized)
        #expect(decoded.json() == normalized.json())
    }
}

@Suite("Hardened identities and numbers")
struct IdentityAndNumberTests {
    @Test("a NUL inside a PBX string cannot make two different hangups share an id")
    func nulInParts() throws {
        func hangup(call: String, caller: String) throws -> CallEvent {
            let event = try XelionCallEvent(
                type: .callHungUpEvent,
                notification: .object(["callId": .string(call), "callerFlowId": .string(caller), "calleeFlowId": "f2"]))
            return XelionMapping(tenant: "acme").normalize(event, receivedAt: Date())
        }
        let one = try hangup(call: "c\u{0}f1", caller: "x")
        let two = try hangup(call: "c", caller: "f1\u{0}x")
        #expect(one.id != two.id)
        #expect(try hangup(call: "c\u{0}f1", caller: "x").id == one.id, "still stable")
        // Parts without a NUL hash as they always did.
        #expect(
            EventIdentity.id(tenant: "t", provider: "p", parts: ["a", "b"]) == "evt_11b55966538d8629098f1c2311cfec30",
            "SHA-256 of t·p·a·b·, each followed by a zero byte")
    }

    @Test("+31 (0)20 123 4567 drops the trunk prefix in parentheses; other parentheses keep their digits")
    func trunkPrefix() {
        #expect(PhoneNumber.e164("+31 (0)20 123 4567") == "+31201234567")
        #expect(PhoneNumber.e164("+44 (0) 20 7946 0958") == "+442079460958")
        #expect(PhoneNumber.e164("0031 (0)20 123 4567") == "+31201234567")
        #expect(PhoneNumber.e164("+1 (212) 555-1234") == "+12125551234")
        #expect(PhoneNumber.e164("(0)20 123 4567") == nil, "a national number stays without E.164")
    }
}
