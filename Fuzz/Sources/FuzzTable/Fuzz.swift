import GANCore

/// libFuzzer entry: a CSV table as `gan-cl train --data table.csv` will read it — parsed,
/// its columns inferred, fitted, encoded and decoded — must throw or succeed, never crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let table = try? Table.parse(bytes, path: "fuzz.csv") else { return 0 }
    precondition(table.rows.allSatisfy { $0.count == table.header.count })
    guard let transform = try? TableTransform(fitting: table, path: "fuzz.csv"),
          let encoded = try? transform.encode(table, seed: 1, path: "fuzz.csv") else { return 0 }
    precondition(encoded.count == table.rows.count * transform.width)
    let decoded = transform.decode(encoded, rows: table.rows.count)
    precondition(decoded.rows.count == table.rows.count && decoded.header == table.header)
    return 0
}
