import CLibFuzzer
import Foundation
import Images

// One input through `ImageDecoder.decode(data:)`, which picks JPEG, PNG, GIF or BMP from the
// signature, so a single target reaches every decoder; the seeds hold files of each format.
// Thrown errors are the expected outcome for bad data; only a crash, a sanitizer report, a
// timeout or an out-of-memory is a finding.

/// Low enough that a tiny file declaring a huge canvas is refused quickly instead of timing
/// out; the refusal takes the same path as at Pillow's limit.
let fuzzMaxPixels = 1 << 20

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    // The last byte picks the options (decoders ignore bytes after the image's end), so
    // mutations reach EXIF/XMP orientation and libjpeg's scaled decode as well.
    let flags = bytes.last ?? 0
    let options = DecodeOptions(
        exifTranspose: flags & 1 != 0, maxPixels: fuzzMaxPixels,
        jpegShrinkTo: flags & 2 != 0 ? Int(flags >> 2) + 1 : nil)
    _ = try? ImageDecoder.decode(data: bytes, path: "<fuzz>", options: options)
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzz))
