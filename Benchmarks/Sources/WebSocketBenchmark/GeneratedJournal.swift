import CallEvents
import Foundation
import Relay
import Xelion

/// Journals filled with generated calls (`PipelineBenchmark.messages`), as the benchmarks that read
/// or drain a journal need them.
enum GeneratedJournal {
    /// Commits `count` events of tenant `acme` in batches of 1,000 and waits until they are durable;
    /// returns their ids. Repeated hangups are dropped by the journal, so a fifth more is generated.
    static func commit(_ count: Int, to journal: Journal) async throws -> Set<String> {
        let mapping = XelionMapping(tenant: "acme")
        var ids: Set<String> = []
        var batch: [CallEvent] = []
        for text in PipelineBenchmark.messages(count + count / 5) where ids.count < count {
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else { continue }
            batch.append(mapping.normalize(event, receivedAt: Date()))
            if batch.count == 1000 || ids.count + batch.count >= count {
                for entry in try await journal.commit(batch).committed { ids.insert(entry.event.id) }
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { for entry in try await journal.commit(batch).committed { ids.insert(entry.event.id) } }
        try await journal.waitUntilDurable()
        return ids
    }
}
