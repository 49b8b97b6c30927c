import CFastCGI
import Glibc

extension ResponderPool {
    /// Copies the parameters (libfcgi frees them at finish) and reads exactly CONTENT_LENGTH bytes,
    /// refusing a body over the limit before allocating anything for it.
    func read(_ request: UnsafeMutablePointer<FCGX_Request>, scratch: UnsafeMutableBufferPointer<CChar>,
              generation: Generation) -> FastCGIRequest {
        var parameters: [String: String] = [:]
        parameters.reserveCapacity(48)
        if var entry = request.pointee.envp {
            // Split NAME=value at the byte level; String(cString:) + Character search costs far more.
            while let pair = entry.pointee {
                let length = strlen(pair)
                pair.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    let all = UnsafeBufferPointer(start: bytes, count: length)
                    if let equals = all.firstIndex(of: UInt8(ascii: "=")),
                       Self.isWanted(UnsafeBufferPointer(rebasing: all[..<equals]), in: generation.wantedNames) {
                        let name = String(decoding: UnsafeBufferPointer(rebasing: all[..<equals]), as: UTF8.self)
                        parameters[name] = String(decoding: UnsafeBufferPointer(rebasing: all[(equals + 1)...]), as: UTF8.self)
                    }
                }
                entry += 1
            }
        }
        let input = request.pointee.in
        let declared = parameters["CONTENT_LENGTH"].flatMap { Int($0) } ?? 0
        var result = FastCGIRequest(parameters: parameters, body: [])
        if declared < 0 || declared > generation.configuration.maxBodyBytes {
            result.bodyStatus = .tooLarge
            drain(input, scratch: scratch)
            return result
        }
        if declared > 0 {
            var body = [UInt8](repeating: 0, count: declared)
            var filled = 0
            body.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    while filled < declared {
                        let got = FCGX_GetStr(chars.baseAddress! + filled, Int32(declared - filled), input)
                        if got <= 0 { break }
                        filled += Int(got)
                    }
                }
            }
            if filled < declared {
                result.bodyStatus = .incomplete
                body.removeLast(declared - filled)
            }
            result.body = body
        }
        drain(input, scratch: scratch)  // anything past CONTENT_LENGTH is not part of this request
        return result
    }

    private static func isWanted(_ name: UnsafeBufferPointer<UInt8>, in wantedNames: [Int: [[UInt8]]]?) -> Bool {
        guard let wantedNames else { return true }
        guard let candidates = wantedNames[name.count] else { return false }
        return candidates.contains { $0.elementsEqual(name) }
    }

    private func drain(_ input: UnsafeMutablePointer<FCGX_Stream>?, scratch: UnsafeMutableBufferPointer<CChar>) {
        while FCGX_GetStr(scratch.baseAddress, Int32(scratch.count), input) > 0 {}
    }
}
