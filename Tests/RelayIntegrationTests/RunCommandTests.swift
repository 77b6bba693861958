import Foundation
import TestSupport
import Testing

/// `callrelay run` and `callrelay check` as an operator uses them.
@Suite("callrelay run and check", .timeLimit(.minutes(2)))
struct RunCommandTests {
    func writeConfiguration(_ text: String) throws -> URL {
        let directory = TestEnvironment.temporaryDirectory()
        let file = directory.appendingPathComponent("callrelay.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    @Test("runs every tenant, relays events, and on SIGTERM closes with 1001, logs out and exits 0; no secret in any line")
    func runAndShutDown() async throws {
        let peer = try await XelionPeer.start()
        let config = try writeConfiguration(
            """
            data_dir: ./data
            tenants:
              - name: acme
                xelion:
                  url: \(peer.restBase)acme/
                  username: admin
                  password_env: ACME_XELION_PASSWORD
                  ca_file: \(peer.caFile ?? "")
            """)
        let logs = config.deletingLastPathComponent().appendingPathComponent("stderr.log")
        let relay = try await PeerProcess.launch(
            TestEnvironment.callrelay,
            ["run", "--config", config.path, "--log-format", "json"],
            readyLine: false,
            environment: ["ACME_XELION_PASSWORD": "secret"],
            standardError: logs
        )
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=2")
        var lines: [String] = []
        var lastSent = -1
        try await eventually("every event shown") {
            let sent = try peer.manifest().count
            defer { lastSent = sent }
            guard sent > 0, sent == lastSent else { return false }
            while lines.count < sent { lines.append(try await relay.line()) }
            return true
        }
        #expect(lines.allSatisfy { $0.contains("acme") && $0.contains("call") })

        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
        // Where the stream stopped, for the gap the next start records.
        let alive = config.deletingLastPathComponent().appendingPathComponent("data/tenants/alive")
        #expect(try String(contentsOf: alive, encoding: .utf8).hasPrefix("acme "))
        let stats = try await peer.stats()
        #expect((stats["client_close_codes"] as? [String: Int])?["1001"] == 1)
        let log = try String(contentsOf: logs, encoding: .utf8)
        #expect(log.contains("logged out of the PBX"))
        let secrets = ["secret"] + ((try await peer.state())["tokens"] as? [String] ?? [])
        for secret in secrets {
            #expect(!log.contains(secret), "a password or token in the logs")
            #expect(!lines.joined().contains(secret))
        }
        for line in log.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "every log line is JSON: \(line)")
        }
    }

    @Test("check names the file, line, key and reason, and exits 1; run refuses the same file")
    func checkRefuses() async throws {
        let config = try writeConfiguration(
            """
            tenants:
              - name: acme
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  usernam: admin
                  password_env: CALLRELAY_TEST_UNSET_VARIABLE
            """)
        for command in ["check", "run"] {
            let errors = config.deletingLastPathComponent().appendingPathComponent("\(command).err")
            let process = try await PeerProcess.launch(
                TestEnvironment.callrelay, [command, "--config", config.path], readyLine: false, standardError: errors)
            #expect(await process.exitStatus() == 1)
            let text = try String(contentsOf: errors, encoding: .utf8)
            #expect(
                text.contains("\(config.path):5: tenants[0].xelion.usernam: unknown key; did you mean 'username'?"), "\(text)")
            #expect(
                text.contains("tenants[0].xelion.password_env: environment variable CALLRELAY_TEST_UNSET_VARIABLE is not set"))
        }
    }

    @Test("run refuses a journal that is not a database, names it, and leaves it as it was")
    func unreadableJournal() async throws {
        let config = try writeConfiguration(
            """
            data_dir: ./data
            tenants:
              - name: acme
                xelion:
                  url: https://pbx.example.com/api/v1/acme/
                  username: admin
                  password_env: ACME_XELION_PASSWORD
            """)
        let data = config.deletingLastPathComponent().appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let journal = data.appendingPathComponent("journal.sqlite")
        let garbage = Data(repeating: 0x42, count: 10_000)
        try garbage.write(to: journal)
        let errors = config.deletingLastPathComponent().appendingPathComponent("run.err")
        let process = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["run", "--config", config.path], readyLine: false,
            environment: ["ACME_XELION_PASSWORD": "x"], standardError: errors)
        #expect(await process.exitStatus() == 1)
        let text = try String(contentsOf: errors, encoding: .utf8)
        #expect(text.contains("the journal \(journal.path) is not a readable SQLite database"), "\(text)")
        #expect(try Data(contentsOf: journal) == garbage)
    }

    @Test("--version names the release the changelog describes")
    func version() async throws {
        let process = try await PeerProcess.launch(TestEnvironment.callrelay, ["--version"], readyLine: false)
        #expect(await process.exitStatus() == 0)
        let version = await process.rest().trimmingCharacters(in: .whitespacesAndNewlines)
        let changelog = try String(
            contentsOf: TestEnvironment.repositoryRoot.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        #expect(changelog.contains("## [\(version)]"), "\(version)")
    }

    @Test("check accepts the example configuration when its secret is set")
    func exampleConfiguration() async throws {
        let example = TestEnvironment.repositoryRoot.appendingPathComponent("Config/callrelay.example.yaml").path
        let process = try await PeerProcess.launch(
            TestEnvironment.callrelay,
            ["check", "--config", example],
            readyLine: false,
            environment: ["ACME_XELION_PASSWORD": "x"]
        )
        #expect(await process.exitStatus() == 0)
        #expect(await process.rest().contains("OK, 1 tenant (acme)"))
    }

    @Test(
        "demo runs on a fresh machine: simulator, relay over wss://, normalized events, one hangup per transfer, signed webhooks, exit 0"
    )
    func demo() async throws {
        let demo = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["demo", "--calls", "4", "--rate", "50"], readyLine: false)
        #expect(await demo.exitStatus() == 0)
        let output = await demo.rest()
        let events = output.split(separator: "\n").filter { $0.contains("  acme  ") }
        #expect(output.contains("The CRM received \(events.count) webhooks, every signature valid."), "\(output)")
        #expect(output.split(separator: "\n").count { $0.contains("CRM ← ") && $0.contains("signature valid") } == events.count)
        let summary = output.split(separator: "\n").last { $0.hasPrefix("4 calls, ") }
        #expect(summary?.contains(": \(events.count) events shown, 1 duplicate dropped, 1 transfer found.") == true, "\(output)")
        #expect(events.count >= 12, "at least three events per call")
        #expect(events.contains { $0.contains("call.transferred") && $0.contains("handed from user-") })
        #expect(events.contains { $0.contains("call.missed") })
        let hangups = events.filter { $0.contains("call.ended") }.map {
            $0.split(separator: " ", omittingEmptySubsequences: true)[3]
        }
        #expect(Set(hangups).count == hangups.count, "one hangup per call: \(hangups)")
    }
}
