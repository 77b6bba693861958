import CallEvents
import Foundation
import Testing
import Xelion

@testable import Relay

/// `callrelay tail`'s readable lines come from the journal's JSON; the log stream's from the event.
@Suite("Readable lines")
struct PrettyEventFormatTests {
    let pbx = Notifications()

    @Test("a line read from an event's JSON is the line of the event itself", arguments: [false, true])
    func fromJSON(colour: Bool) throws {
        let format = PrettyEventFormat(colour: colour)
        var hungUp = pbx.event(.callHungUpEvent, call: "c-2")
        hungUp.data.missedReason = "no answer"
        var transferred = pbx.event(.callConnectedEvent, call: "c-3")
        transferred.type = .transferred
        transferred.data.transfer = CallTransfer(
            party: CallParty(number: "+31201234567"), from: CallParty(number: "+31880001", user: "anna"),
            to: CallParty(name: "Bob"), previousCallId: "c-1")
        var unknownParties = pbx.event(.newCallEvent, call: "c-4", callerFlow: nil, calleeFlow: nil)
        unknownParties.data.direction = .unknown
        var quoted = pbx.event(.newCallEvent, call: "c-5", caller: "+31 20 \"1\"", callee: "Zoë \\ Ånne")
        quoted.data.durationSeconds = 1.5e3
        for event in [pbx.event(.newCallEvent, call: "c-1"), hungUp, transferred, unknownParties, quoted] {
            let json = event.json()
            let line = try #require(format.line(json: json))
            #expect(line == format.line(event))
            // The one-pass reader and the strict parser agree; escaped strings go to the latter.
            #expect(format.strictLine(json: json) == line)
            #expect((PrettyEventFields(json: json) == nil) == json.contains("\\"))
        }
        #expect(format.line(json: transferred.json())?.contains("+31201234567 handed from anna (+31880001) to Bob") == true)
    }

    @Test("a row that is not an event has no line (tail shows it as it is)")
    func notAnEvent() {
        let format = PrettyEventFormat(colour: false)
        #expect(format.line(json: "not json") == nil)
        #expect(format.line(json: #"{"type":"call.started"}"#) == nil)
        #expect(format.line(json: #"{"type":"call.started","time":"yesterday","data":{}}"#) == nil)
        #expect(format.line(json: "[1,2]") == nil)
        // Truncated rows, a row with text after it, and a row nested past any event's depth.
        let event = pbx.event(.newCallEvent, call: "c-1").json()
        for cut in [1, 40, event.utf8.count / 2, event.utf8.count - 1] {
            #expect(format.line(json: String(event.prefix(cut))) == nil, "\(cut)")
        }
        #expect(format.line(json: event + " x") == nil)
        #expect(format.line(json: String(repeating: "[", count: 10_000)) == nil)
        #expect(
            PrettyEventFields(json: #"{"type":"call.started","data":{"raw":"# + String(repeating: "[", count: 200) + "}}") == nil)
    }
}
