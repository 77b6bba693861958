import CallEvents
import Foundation
import Testing
import Xelion

/// Event ids are the dedupe key, the webhook id and what CRMs deduplicate on: an upgrade that changed
/// how they are derived would forward every event inside the dedupe window again under a new id.
@Suite("Event ids stay the same across versions")
struct EventIdentityTests {
    static let connected = #"""
        {"notificationType":"callConnectedEvent","notification":{"initiation":"incoming","date":"2026-11-23 11:08:51",
         "callId":"c-1","callerFlowId":"f1","calleeFlowId":"f2","callerPhoneNumber":"+31201234567","calleeUser":"user-001",
         "calleeUserAddressable":"ua-1","extra":{"b":[1,2.5,"x\"y"],"a":null,"é":true}}}
        """#
    static let hangup = #"""
        {"notificationType":"callHungUpEvent","notification":{"date":"2026-11-23 11:09:51","callId":"c-1",
         "callerFlowId":"f1","calleeFlowId":"f2","duration":60}}
        """#

    func id(_ text: String) throws -> String {
        guard case .callEvent(let event) = XelionSocketMessage.decode(text) else {
            Issue.record("not decoded: \(text)")
            return ""
        }
        return XelionMapping(tenant: "acme").normalize(event, receivedAt: Date()).id
    }

    @Test("the ids of a known connection and hangup are pinned")
    func pinned() throws {
        let connected = try id(Self.connected)
        let hangup = try id(Self.hangup)
        #expect(connected == "evt_1b4cde92cddb2fcc01d500ff050e44c2")
        #expect(hangup == "evt_b6b9bb5f3a5b0141103e93f371adacae")
        #expect(
            EventIdentity.id(tenant: "acme", provider: "xelion", parts: ["a", "b"])
                == "evt_86b3753e060a3ed503246dabc3d5245b")
    }

    @Test("key order in the PBX's notification does not change the id; a changed value does")
    func keyOrder() throws {
        let reordered = #"""
            {"notification":{"extra":{"é":true,"a":null,"b":[1,2.5,"x\"y"]},"calleeUserAddressable":"ua-1",
             "calleeUser":"user-001","callerPhoneNumber":"+31201234567","calleeFlowId":"f2","callerFlowId":"f1",
             "callId":"c-1","date":"2026-11-23 11:08:51","initiation":"incoming"},"notificationType":"callConnectedEvent"}
            """#
        #expect(try id(reordered) == id(Self.connected))
        #expect(try id(Self.connected.replacingOccurrences(of: "ua-1", with: "ua-2")) != id(Self.connected))
    }
}
