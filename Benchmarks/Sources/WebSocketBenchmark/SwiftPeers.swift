import Foundation
import NIOConcurrencyHelpers
import Relay
import XelionSimulator

/// The delivery benchmark's peers in Swift (`delivery --peers swift`): `XelionSimulator` as the PBX
/// and `WebhookReceiver` (the demo's stand-in CRM, which checks signatures) as the CRM, in a process of
/// their own.
///
/// On a machine of two cores the Python peers cannot send 1,000 events a second (the PBX peer takes a
/// core of its own), and they take the CPU the relay needs; these cost a fraction of that.
/// They write the same manifest and record lines as `xelion_peer.py` and `crm_sink.py`, so the
/// benchmark measures both the same way.
enum SwiftPeers {
    /// The peers' process, pinned to the second core, once it has said where it listens.
    struct Running {
        let process: Process
        /// The simulator's REST base, its CA file, and the CRM's URL.
        let rest: String
        let ca: String
        let crm: String
    }

    /// Starts the peers in a process of their own (this executable's `delivery-peers`).
    static func launch(
        manifest: String, record: String, secret: String, caOut: String, events: Int, rate: Double = 0, idleTenants: Int = 0
    ) throws -> Running {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let (command, arguments) = Driver.pinned(
            me,
            [
                "delivery-peers", "--manifest", manifest, "--record", record, "--secret", secret, "--ca-out", caOut,
                "--events", "\(events)", "--rate", "\(rate)", "--idle-tenants", "\(idleTenants)",
            ], core: 1)
        let process = try DeliveryBenchmark.launch(command, arguments)
        let ready = try DeliveryBenchmark.readyLine(process)
        guard let rest = ready["rest"] as? String, let ca = ready["ca"] as? String, let crm = ready["crm"] as? String else {
            kill(process.processIdentifier, SIGKILL)
            throw BenchmarkError("the Swift peers did not start: \(ready)")
        }
        return Running(process: process, rest: rest, ca: ca, crm: crm)
    }

    static func serve(
        manifest: String, record: String, secret: String, caOut: String, events: Int, rate: Double, idleTenants: Int = 0
    ) async throws {
        // The idle tenants connect and subscribe like the busy one but are sent nothing.
        var configuration = XelionSimulator.Configuration()
        configuration.users += (0..<idleTenants).map { (DeliveryBenchmark.idleTenantName($0), "admin", "secret") }
        if idleTenants > 0 {
            _ = FileDescriptorLimit.raise(to: FileDescriptorLimit.needed(tenants: idleTenants + 1, endpoints: 1))
        }
        let simulator = try await XelionSimulator.start(configuration)
        try (simulator.caPEM ?? "").write(toFile: caOut, atomically: true, encoding: .utf8)
        let manifestFile = LineFile(path: manifest)
        let recordFile = LineFile(path: record)
        // Only signed deliveries are recorded, as crm_sink.py records only those it accepts.
        let crm = try await WebhookReceiver.start(secret: secret) { _, body, signed in
            let receivedAt = Date().timeIntervalSince1970
            if signed { recordFile.append(#"{"received_at":\#(receivedAt),"body":\#(body)}"#) }
        }
        emitLine(#"{"rest":"\#(simulator.restBase)","ca":"\#(caOut)","crm":"\#(crm.url)"}"#)

        while simulator.fullySubscribedConnections <= idleTenants { try await Task.sleep(for: .milliseconds(20)) }
        var flows = CallFlows(seed: 44, transferRatio: 0.2, missedRatio: 0.2)
        let clock = ContinuousClock()
        let start = clock.now
        var index = 0
        while index < events {
            for event in flows.nextCall() {
                if rate > 0 { try await Task.sleep(until: start + .nanoseconds(Int64(Double(index) * 1e9 / rate)), clock: clock) }
                let sentAt = Date().timeIntervalSince1970
                simulator.send(event, tenant: "acme")
                var object: [String: Any] = ["notificationType": event.type, "sent_at": sentAt, "duplicate": event.isDuplicate]
                for key in ["callId", "callerFlowId", "calleeFlowId"] { object[key] = event.notification[key] }
                if let data = try? JSONSerialization.data(withJSONObject: object) {
                    manifestFile.append(String(decoding: data, as: UTF8.self))
                }
                index += 1
            }
        }
        // The benchmark kills this process once it has what it needs.
        try await Task.sleep(for: .seconds(3600))
    }
}

/// JSON lines appended to a file from any thread; a background thread writes them out every 50 ms,
/// so that neither the event loops nor the pacing loop wait on the disk.
final class LineFile: Sendable {
    private let pending = NIOLockedValueBox<[String]>([])

    init(path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = FileHandle(forWritingAtPath: path)
        let pending = self.pending
        Thread.detachNewThread {
            while true {
                Thread.sleep(forTimeInterval: 0.05)
                let lines = pending.withLockedValue { lines in
                    defer { lines.removeAll(keepingCapacity: true) }
                    return lines
                }
                if !lines.isEmpty { handle?.write(Data((lines.joined(separator: "\n") + "\n").utf8)) }
            }
        }
    }

    func append(_ line: String) { pending.withLockedValue { $0.append(line) } }
}
