// engine-bench's command lines: `--help` for each command, and a refusal of an option the command
// does not know (a mistyped flag would otherwise run hours of table with the defaults).
import Foundation

enum Arguments {
    /// Usage of each command.
    static let usage: [String: String] = [
        "": """
            engine-bench [--quick] [--gemm-shapes]      speed of the engine on this machine (BENCHMARKS.md "Engine speed")
            engine-bench results [options]              the sparse-update results table (engine-bench results --help)
            engine-bench int8 [options]                 the int8 device against fp32 (engine-bench int8 --help)
            """,
        "results": """
            engine-bench results: EfficientNet-Lite0 → Fashion-MNIST at 64×64 per policy, rates chosen on a held-out slice.
              --seeds N (3)  --first-seed F (0: seeds F…F+N−1; with --rates, to split a row over processes)
              --policies head,bias,static,dgsu,random,dense  --precisions int8 (int8, fp32)
              --per-group  --ci  --epochs E (1)  --train-samples N (24000)  --test-samples N (10000)  --no-mobilenet
              --rates HEAD,BIAS,WEIGHTS  --head-grid …  --bias-grid …  --weights-grid …  --schedule-grid constant,cosine
              --layout-weights NAME=RATIO,… --layout-biases N  --age-horizon A  --importance gradient|weight
              --label TEXT  --json FILE
            (tools/results-table.sh runs the rows of BENCHMARKS.md.)
            """,
        "int8": """
            engine-bench int8: the pretrained model's int8 forward against fp32 on Fashion-MNIST.
              --train-samples N (4000)  --test-samples N (2000)  --size S (64)  --calibration N (64)  --percentiles P,… (1)
              --schedule constant|cosine|step (cosine: the classifier fit's rate schedule)
            """,
    ]

    /// Options that take a value, and flags, per command.
    static let valued: [String: Set<String>] = [
        "": [],
        "results": ["--seeds", "--first-seed", "--policies", "--precisions", "--epochs", "--train-samples", "--test-samples", "--rates", "--head-grid",
                    "--bias-grid", "--weights-grid", "--schedule-grid", "--layout-weights", "--layout-biases", "--age-horizon",
                    "--importance", "--label", "--json"],
        "int8": ["--train-samples", "--test-samples", "--size", "--calibration", "--percentiles", "--schedule"],
    ]
    static let flags: [String: Set<String>] = [
        "": ["--quick", "--gemm-shapes"],
        "results": ["--per-group", "--ci", "--no-mobilenet"],
        "int8": [],
    ]

    /// Prints the usage and exits for `--help`; exits with an error naming an unknown option.
    static func check(_ args: [String], command: String) {
        if args.contains("--help") || args.contains("-h") {
            print(usage[command] ?? "")
            exit(0)
        }
        var i = 0
        while i < args.count {
            let a = args[i]
            if valued[command]?.contains(a) == true {
                guard i + 1 < args.count else { fail("\(a) needs a value") }
                i += 2
            } else if flags[command]?.contains(a) == true {
                i += 1
            } else {
                fail("unknown option '\(a)' for engine-bench\(command.isEmpty ? "" : " " + command); `engine-bench\(command.isEmpty ? "" : " " + command) --help` lists them")
            }
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write("engine-bench: \(message)\n".data(using: .utf8)!)
        exit(2)
    }
}
