import Testing

@testable import Relay

/// The queue between the sockets and the journal's writer: what it hands on, in what batches, and
/// when a producer has to wait.
@Suite("Batch queue")
struct BatchQueueTests {
    @Test("everything waiting is taken oldest first, in batches of at most the largest batch")
    func batches() async {
        let queue = BatchQueue<Int>(capacity: 100, maxBatch: 4)
        for value in 0..<10 { await queue.push(value) }
        #expect(queue.count == 10)
        var taken: [[Int]] = []
        while queue.count > 0, let batch = await queue.next() { taken.append(batch) }
        #expect(taken == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        // Taking leaves nothing behind that a later push could land after.
        await queue.push(10)
        #expect(await queue.next() == [10])
    }

    @Test("a waiting consumer gets the next element at once")
    func handOver() async {
        let queue = BatchQueue<Int>(capacity: 10, maxBatch: 4)
        async let batch = queue.next()
        // The consumer may not be waiting yet; either way the element reaches it, alone.
        await queue.push(1)
        #expect(await batch == [1])
        #expect(queue.count == 0)
    }

    @Test("a producer held by a full queue goes on once a batch is taken")
    func backpressure() async {
        let queue = BatchQueue<Int>(capacity: 3, maxBatch: 2)
        for value in 0..<2 { await queue.push(value) }
        let producer = Task { await queue.push(2) }
        // The third push fills the queue and waits for the consumer: if taking a batch did not wake
        // it, this test would never end.
        #expect(await queue.next() == [0, 1])
        #expect(await producer.value)
        #expect(await queue.next() == [2])
    }

    @Test("after finish, the rest is handed out, then nil, and new elements are refused")
    func finish() async {
        let queue = BatchQueue<Int>(capacity: 10, maxBatch: 10)
        await queue.push(1)
        queue.finish()
        #expect(await queue.push(2) == false)
        #expect(await queue.next() == [1])
        #expect(await queue.next() == nil)
    }
}
