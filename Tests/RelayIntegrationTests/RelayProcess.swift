import Foundation
import TestSupport
import Testing

/// What the `callrelay run` tests share: a configuration for the tenant `acme` of a Xelion peer, the
/// daemon as a child process, and `callrelay tail` over its journal.
enum RelayProcess {
    /// Writes `callrelay.yaml` in `directory`: data in `./data`, the log stream as JSON Lines in
    /// `./events.jsonl`, one tenant against `peer`. `tenant` adds lines under the tenant (its
    /// `webhooks:`), indented as the tenant's keys.
    static func configuration(_ peer: XelionPeer, in directory: URL, tenant extra: String = "") throws -> URL {
        let file = directory.appendingPathComponent("callrelay.yaml")
        try """
        data_dir: ./data
        log_stream:
          path: ./events.jsonl
          format: json
        tenants:
          - name: acme
            xelion:
              url: \(peer.restBase)acme/
              username: admin
              password_env: ACME_XELION_PASSWORD
              ca_file: \(peer.caFile ?? "")
        \(extra)
        """.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// `callrelay run` on `config`, its standard error in `name.log` beside it.
    static func start(_ config: URL, _ name: String, environment: [String: String]) async throws -> PeerProcess {
        try await PeerProcess.launch(
            TestEnvironment.callrelay, ["run", "--config", config.path], readyLine: false, environment: environment,
            standardError: config.deletingLastPathComponent().appendingPathComponent("\(name).log"))
    }

    /// `callrelay tail --json` over the journal in `data`, as JSON objects.
    static func tail(_ data: URL, _ arguments: [String] = []) async throws -> [[String: Any]] {
        let process = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["tail", "--data-dir", data.path, "--json"] + arguments, readyLine: false)
        let output = await process.rest()
        #expect(await process.exitStatus() == 0)
        return output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
