import Logging
import NIOPosix
import ServiceLifecycle

/// Every tenant source as one service: cancelled on graceful shutdown, which closes each socket with
/// 1001 and logs each session out, all tenants at once.
///
/// One service for all, not one each: a service costs the service group a task and
/// `cancelWhenGracefulShutdown` two more, several KiB per tenant that sits idle for days. It also
/// writes the tenants' signs of life every ``SignsOfLife/interval`` and once more after they stop.
struct TenantSourcesService: Service {
    let sources: [any CallEventSource]
    let signsOfLife: SignsOfLife
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for source in sources {
                    group.addTask { await source.run() }
                }
                group.addTask {
                    while (try? await Task.sleep(for: .seconds(1))) != nil { await saveSignsOfLife { try $0.flushIfDue() } }
                }
            }
        }
        // Every source has noted where its stream stopped.
        await saveSignsOfLife { try $0.flush() }
    }

    /// On the I/O thread pool: with thousands of tenants, formatting them all and writing the file
    /// would hold up a thread of the pool that hands events on.
    private func saveSignsOfLife(_ write: @escaping @Sendable (SignsOfLife) throws -> Bool) async {
        let signsOfLife = self.signsOfLife
        do {
            _ = try await NIOThreadPool.singleton.runIfActive { try write(signsOfLife) }
        } catch {
            logger.warning(
                "cannot keep the tenants' last signs of life; a gap across a restart may go unrecorded",
                metadata: ["error": "\(error)"])
        }
    }
}

/// The pipeline as a service: on graceful shutdown it commits what is queued, then returns.
struct PipelineService: Service {
    let pipeline: EventPipeline

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await pipeline.run()
        } onGracefulShutdown: {
            pipeline.finish()
        }
    }
}

/// A webhook deliverer as a service: cancelled on graceful shutdown.
struct DelivererService: Service {
    let deliverer: WebhookDeliverer

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await deliverer.run()
        }
    }
}
