// The field rules of PROTOCOL.md §4 for the control-only messages, checked after parsing.

/// Validators for JOIN, TASK, METRICS, HEARTBEAT, BYE and ERROR headers.
enum HeaderRules {
    /// JOIN (§4.1): 1...maxDevices unique devices with positive shard and budget.
    static func join(_ j: PBJoin, limits: WireLimits) throws {
        try Validate.text(j.nodeName, field: "Join.node_name", limits: limits)
        guard !j.devices.isEmpty else {
            throw WireError.invalid(field: "Join.devices", reason: "a node must host at least one device")
        }
        try Validate.count(j.devices.count, field: "Join.devices count", limit: limits.maxJoinDevices)
        var seen = Set<String>()
        for d in j.devices {
            try Validate.identifier(d.deviceID, field: "DeviceInfo.device_id", limits: limits)
            guard seen.insert(d.deviceID).inserted else {
                throw WireError.invalid(field: "Join.devices", reason: "device '\(d.deviceID)' is listed twice")
            }
            try Validate.positive(d.shardSize, field: "DeviceInfo.shard_size of '\(d.deviceID)'")
            try Validate.positive(d.memoryBudgetBytes, field: "DeviceInfo.memory_budget_bytes of '\(d.deviceID)'")
        }
        try Validate.positive(j.heartbeatIntervalMs, field: "Join.heartbeat_interval_ms")
        try Validate.count(j.policies.count, field: "Join.policies count", limit: limits.maxMapEntries)
        for p in j.policies { try Validate.identifier(p, field: "Join.policies", limits: limits) }
        try Validate.count(j.capabilities.count, field: "Join.capabilities count", limit: limits.maxMapEntries)
        for c in j.capabilities { try Validate.identifier(c, field: "Join.capabilities", limits: limits) }
        try Validate.count(j.encodings.count, field: "Join.encodings count", limit: limits.maxMapEntries)
    }

    /// TASK (§4.3): positive round/steps/batch, finite positive lr, assignments valid for `schema`.
    static func task(_ t: PBTask, schema: ModelSchema?, limits: WireLimits) throws {
        try Validate.positive(t.round, field: "Task.round")
        try Validate.identifier(t.deviceID, field: "Task.device_id", limits: limits)
        try Validate.positive(t.modelVersion, field: "Task.model_version")
        try Validate.positive(t.localSteps, field: "Task.local_steps")
        guard t.learningRate.isFinite, t.learningRate > 0 else {
            throw WireError.invalid(
                field: "Task.learning_rate", reason: "must be finite and > 0, got \(t.learningRate)")
        }
        try Validate.positive(t.batchSize, field: "Task.batch_size")
        try Validate.identifier(t.policy.name, field: "Task.policy.name", limits: limits)
        try numberMap(t.policy.params, field: "Task.policy.params", finite: true, limits: limits)
        guard ValueEncoding(t.deltaEncoding) != nil else {
            throw WireError.invalid(
                field: "Task.delta_encoding", reason: "value \(t.deltaEncoding.rawValue) is not F32, F16 or INT8")
        }
        if t.hasLearningRates {
            for (name, r) in [("head", t.learningRates.head), ("bias", t.learningRates.bias), ("weights", t.learningRates.weights)] where !(r.isFinite && r > 0) {
                throw WireError.invalid(field: "Task.learning_rates.\(name)", reason: "must be finite and > 0, got \(r)")
            }
        }
        if t.hasSecureAggregation { try secAggSetup(t.secureAggregation, schema: schema, limits: limits) }
        guard !t.assignments.isEmpty else { return }
        try Validate.count(t.assignments.count, field: "Task.assignments count", limit: limits.maxTensors)
        guard let schema else {
            throw WireError.schemaMismatch(
                tensor: t.assignments[0].tensor,
                reason: "no model schema is known yet; send a MODEL snapshot before tasks with assignments")
        }
        var seen = Set<String>()
        for a in t.assignments {
            guard let spec = schema[a.tensor] else {
                throw WireError.schemaMismatch(tensor: a.tensor, reason: "the model has no such tensor")
            }
            guard seen.insert(a.tensor).inserted else {
                throw WireError.schemaMismatch(tensor: a.tensor, reason: "assigned twice")
            }
            try Validate.channels(a.channels.map(Int.init), tensor: a.tensor, channelCount: spec.channelCount)
        }
    }

    /// METRICS (§4.5): optional device id, bounded map; NaN allowed ("not measured").
    static func metrics(_ m: PBMetrics, limits: WireLimits) throws {
        if !m.deviceID.isEmpty { try Validate.identifier(m.deviceID, field: "Metrics.device_id", limits: limits) }
        try numberMap(m.values, field: "Metrics.values", finite: false, limits: limits)
    }

    /// HEARTBEAT (§4.6): a positive interval.
    static func heartbeat(_ h: PBHeartbeat) throws {
        try Validate.positive(h.intervalMs, field: "Heartbeat.interval_ms")
    }

    /// BYE (§4.7): bounded reason and device list.
    static func bye(_ b: PBBye, limits: WireLimits) throws {
        try Validate.text(b.reason, field: "Bye.reason", limits: limits)
        try Validate.count(b.deviceIds.count, field: "Bye.device_ids count", limit: limits.maxDevices)
        for d in b.deviceIds { try Validate.identifier(d, field: "Bye.device_ids", limits: limits) }
    }

    /// ERROR (§4.8): a known, specified code and bounded text.
    static func error(_ e: PBError, limits: WireLimits) throws {
        switch e.code {
        case .unspecified, .UNRECOGNIZED:
            throw WireError.invalid(field: "Error.code", reason: "value \(e.code.rawValue) is not a known error code")
        default: break
        }
        try Validate.text(e.message, field: "Error.message", limits: limits)
        if !e.deviceID.isEmpty { try Validate.identifier(e.deviceID, field: "Error.device_id", limits: limits) }
    }

    /// A string → double map with identifier keys and at most `maxMapEntries` entries.
    private static func numberMap(_ map: [String: Double], field: String, finite: Bool, limits: WireLimits) throws {
        try Validate.count(map.count, field: "\(field) count", limit: limits.maxMapEntries)
        for (k, v) in map {
            try Validate.identifier(k, field: "\(field) key", limits: limits)
            if finite && !v.isFinite {
                throw WireError.invalid(field: "\(field)[\(k)]", reason: "must be finite, got \(v)")
            }
        }
    }
}
