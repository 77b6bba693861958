import Testing
import XelionSimulator

/// The simulator's calls are what the demo and the benchmarks measure the relay with: they must
/// look like the PBX's, duplicates included.
@Suite("The simulator's call flows")
struct CallFlowsTests {
    func call(_ kind: CallFlows.Kind, seed: UInt64 = 7) -> [SimulatedEvent] {
        var flows = CallFlows(seed: seed)
        flows.opening = [kind]
        return flows.nextCall()
    }

    @Test("an answered call is started, connected and hung up, with a duration")
    func answered() {
        let events = call(.answered)
        #expect(events.map(\.type) == ["newCallEvent", "callConnectedEvent", "callHungUpEvent"])
        #expect(Set(events.map { $0.notification["callId"] }).count == 1)
        #expect(events.last?.notification["duration"].flatMap { Int($0) } != nil)
        #expect(Int(events.last?.notification["duration"] ?? "") != nil)
    }

    @Test("a missed call has the one-sided channel hangup of line hunting, then missed and a zero-length hangup")
    func missed() {
        let events = call(.missed)
        #expect(events.map(\.type) == ["newCallEvent", "channelHungUpEvent", "missedCallEvent", "callHungUpEvent"])
        #expect(events[1].notification["callerFlowId"] == nil, "only the callee's side is filled")
        #expect(events[1].notification["calleeFlowId"] != nil)
        #expect(events.last?.notification["duration"] == "0")
    }

    @Test(
        "an attended transfer repeats its consult hangup once, same call and flow ids, and the customer reaches the second user")
    func attendedTransfer() throws {
        let events = call(.attendedTransfer)
        let duplicates = events.filter(\.isDuplicate)
        try #require(duplicates.count == 1)
        let original = try #require(events.first { !$0.isDuplicate && $0.notification == duplicates[0].notification })
        #expect(original.type == "callHungUpEvent")
        let hangups = events.filter { $0.type == "callHungUpEvent" && !$0.isDuplicate }
        #expect(hangups.count == 3, "the first call, the consult call and the transferred call each end once")
        let customerFlow = events[0].notification["callerFlowId"]
        #expect(events.last?.notification["callerFlowId"] == customerFlow, "the customer's flow follows the transfer")
        #expect(events.last?.notification["calleeUser"] != events[0].notification["calleeUser"])
    }

    @Test("a seed replays the same calls")
    func replay() {
        var one = CallFlows(seed: 42)
        var two = CallFlows(seed: 42)
        for _ in 0..<20 {
            let (a, b) = (one.nextCall(), two.nextCall())
            #expect(a.map(\.type) == b.map(\.type))
            #expect(a.map { $0.notification["callId"] } == b.map { $0.notification["callId"] })
        }
    }
}
