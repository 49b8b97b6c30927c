import CFastCGI

/// Blocks `signals` in the calling thread (and the threads it starts afterwards).
public func stockroomBlockSignals(_ signals: [Int32]) {
    signals.withUnsafeBufferPointer { _ = stockroom_block_signals($0.baseAddress, Int32($0.count)) }
}

/// Waits until one of the (blocked) `signals` arrives and returns it.
public func stockroomWaitForSignal(_ signals: [Int32]) -> Int32 {
    signals.withUnsafeBufferPointer { stockroom_wait_for_signal($0.baseAddress, Int32($0.count)) }
}
