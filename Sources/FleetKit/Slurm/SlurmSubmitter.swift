// `fleet submit --slurm` and `fleet resume --slurm` as a service: check what a cluster user gets
// wrong before anything is queued, prepare the run folder, write the job, submit it, record it.
import Federation
import Foundation

/// The record of a submitted job: RUN/slurm/job.json.
public struct SlurmRecord: Codable, Equatable, Sendable {
    public var jobId: String
    public var request: SlurmRequest
    public var submitted: Date
    public var resume: Bool
    /// Earlier jobs of this run (a resumed run's first job, …).
    public var earlierJobs: [String] = []

    public static func path(_ folder: RunFolder) -> String { folder.path + "/slurm/job.json" }

    public static func read(_ folder: RunFolder) throws -> SlurmRecord {
        guard let data = FileManager.default.contents(atPath: path(folder)) else {
            throw SlurmError("\(folder.path) has no slurm/job.json: it was not submitted with `fleet submit --slurm` (a local run's state is its summary.json)")
        }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { return try d.decode(SlurmRecord.self, from: data) } catch {
            throw SlurmError("\(path(folder)) is not a job record fleet submit wrote (\(error)); fleet resume \(folder.path) --slurm submits a new job")
        }
    }

    func write(_ folder: RunFolder) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        try e.encode(self).write(to: URL(fileURLWithPath: Self.path(folder)))
    }
}

/// Submits topologies to Slurm.
public struct SlurmSubmitter {
    public var tools: SlurmTools
    /// Where `coordinator`, `node` and `fleet` are (must be visible on every node too).
    public var binDir: String
    public var logLevel = "info"

    public init(tools: SlurmTools = SlurmTools(), binDir: String) { self.tools = tools; self.binDir = binDir }

    /// The checks that need no run folder: Slurm is here, the topology can run as a job, the
    /// partition exists and the time limit covers the estimate. Returns warnings to print.
    public func check(_ t: Topology, request: SlurmRequest, allowShortTime: Bool) throws -> [String] {
        try tools.requireClient()
        guard t.cells.isEmpty else {
            throw SlurmError("this topology sweeps \(t.cells.count) cells; fleet submit runs one fleet per job. Submit each cell's topology, or run the sweep here with fleet run")
        }
        guard !t.network.proxy else {
            throw SlurmError("network.proxy: on runs the fault proxy inside `fleet run` on one machine; turn it off for a Slurm job (the real network between Slurm nodes is the network)")
        }
        guard t.faults.killNode == nil, t.faults.corruptNode == nil else {
            throw SlurmError("faults (killNode, corruptNode) are injected by `fleet run`'s launcher; remove them for a Slurm job")
        }
        guard request.nodes >= 1 else { throw SlurmError("--nodes must be at least 1") }
        guard request.nodes <= t.nodes.count else {
            throw SlurmError("--nodes \(request.nodes) is more than the topology's \(t.nodes.count) node process(es); each Slurm node needs one. Give --nodes \(t.nodes.count) or fewer, or raise nodes.count in the topology")
        }
        if let p = request.partition { try tools.requirePartition(p) }
        let estimate = SlurmEstimate.seconds(t)
        if request.timeSeconds < estimate && !allowShortTime {
            throw SlurmError("--time \(SlurmTime.format(request.timeSeconds)) is shorter than this topology's estimate of \(SlurmTime.format(estimate)) (one core per node process, with a 2× margin); give --time \(SlurmTime.format(estimate)) or more, or --allow-short-time if you know your cluster is faster")
        }
        var warnings: [String] = []
        for (tool, path) in [("coordinator", binDir + "/coordinator"), ("node", binDir + "/node"), ("fleet", binDir + "/fleet")]
        where !FileManager.default.isExecutableFile(atPath: path) {
            throw SlurmError("no \(tool) executable at \(path); build them (swift build -c release) or give --bin-dir")
        }
        if binDir.hasPrefix("/tmp/") { warnings.append("the executables are under /tmp, which on most clusters is local to each node; every node must see \(binDir)") }
        return warnings
    }

    /// Prepares `folder` for `t`, writes the job and submits it. Returns the record.
    public func submit(_ t: Topology, source: String, folder: RunFolder, request: SlurmRequest) throws -> SlurmRecord {
        let plan = try Launcher.prepare(t, folder: folder, source: source)
        return try submitJob(t, plan: plan, folder: folder, request: request, resume: false, earlier: [])
    }

    /// Submits a job that resumes the run in `folder` from its coordinator's checkpoint.
    public func resume(_ t: Topology, folder: RunFolder, request: SlurmRequest?) throws -> SlurmRecord {
        let previous = try? SlurmRecord.read(folder)
        let config = try FederationConfig.load(path: folder.config)
        var plan = FleetPlan(t, curve: config.curve)
        plan.config = config
        let r = request ?? previous?.request ?? SlurmRequest(nodes: min(2, t.nodes.count), timeSeconds: SlurmEstimate.seconds(t))
        return try submitJob(t, plan: plan, folder: folder, request: r, resume: true,
                             earlier: (previous?.earlierJobs ?? []) + (previous.map { [$0.jobId] } ?? []))
    }

    func submitJob(_ t: Topology, plan: FleetPlan, folder: RunFolder, request: SlurmRequest, resume: Bool, earlier: [String]) throws -> SlurmRecord {
        let absolute = RunFolder(path: URL(fileURLWithPath: folder.path).standardizedFileURL.path)
        let commands = LaunchCommands(plan: plan, folder: absolute, binDir: binDir, bind: "tcp://*:0", connect: "tcp://coordinator:0",
                                      curve: plan.config.curve != nil, logLevel: logLevel)
        let job = SlurmJob(folder: absolute, commands: commands, request: request, fleetExecutable: binDir + "/fleet", resume: resume)
        try job.write(name: t.name)
        let id = try tools.submit(job.script)
        let record = SlurmRecord(jobId: id, request: request, submitted: Date(), resume: resume, earlierJobs: earlier)
        try record.write(absolute)
        return record
    }
}
