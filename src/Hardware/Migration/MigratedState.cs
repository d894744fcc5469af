using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Migration;

/// <summary>
/// The body of a <see cref="MigrationFrameKind.State"/> frame: what a snapshot keeps besides memory (each vCPU's
/// state, the platform state, each stateful device's state by name), taken from a paused VM's
/// <see cref="SnapshotContent"/>. The blobs are the snapshot format's, so the target loads them as a restore does.
/// </summary>
public sealed record MigratedState(IReadOnlyList<byte[]> VcpuStates, byte[] PlatformState, IReadOnlyList<(string Name, byte[] State)> Devices)
{
    private const string Tag = "AVMS";
    private const uint Version = 1;

    /// <summary>The state of <paramref name="content"/> (the devices' states are read now).</summary>
    public static MigratedState Of(SnapshotContent content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return new MigratedState(content.VcpuStates, content.PlatformState, [.. content.Devices.Select(d => (d.Name, d.SaveState()))]);
    }

    /// <summary>The frame body.</summary>
    public byte[] Encode()
    {
        var w = new StateBlobWriter(Tag, Version);
        w.U32((uint)VcpuStates.Count);
        foreach (var vcpu in VcpuStates) w.Bytes(vcpu);
        w.Bytes(PlatformState);
        w.U32((uint)Devices.Count);
        foreach (var (name, state) in Devices)
        {
            w.Bytes(System.Text.Encoding.UTF8.GetBytes(name));
            w.Bytes(state);
        }
        return w.ToArray();
    }

    /// <summary>Reads a body <see cref="Encode"/> wrote.</summary>
    /// <exception cref="FormatException">not a migration state, another version, or malformed.</exception>
    public static MigratedState Decode(ReadOnlySpan<byte> body)
    {
        var r = new StateBlobReader(body, Tag, Version, "migration state");
        uint vcpuCount = r.U32();
        if (vcpuCount is 0 or > 1024) throw new FormatException($"migration state: {vcpuCount} vCPUs");
        var vcpus = new List<byte[]>();
        for (uint i = 0; i < vcpuCount; i++) vcpus.Add(r.Bytes().ToArray());
        var platform = r.Bytes().ToArray();
        uint deviceCount = r.U32();
        if (deviceCount > 1024) throw new FormatException($"migration state: {deviceCount} devices");
        var devices = new List<(string, byte[])>();
        for (uint i = 0; i < deviceCount; i++) devices.Add((System.Text.Encoding.UTF8.GetString(r.Bytes()), r.Bytes().ToArray()));
        r.End();
        return new MigratedState(vcpus, platform, devices);
    }
}
