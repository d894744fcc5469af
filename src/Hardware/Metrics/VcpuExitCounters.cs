using System.Diagnostics;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Metrics;

/// <summary>
/// One vCPU's exit counts by kind and its time inside the accelerator's run call, for export. Port I/O and MMIO
/// come from the accelerator's own <see cref="VcpuExitCounts"/> (or, for a vCPU that keeps none, from a
/// <see cref="CountingExitHandler"/> around its handler: <see cref="Wrap"/>); the returns of the run call are
/// counted by its caller (<see cref="CountReturn"/>). Only the vCPU's thread writes them (plain increments: no
/// atomic instruction on the exit path); the metrics callback reads them. Registered with
/// <see cref="HardwareMeter"/> from creation until <see cref="Dispose"/> (and retained a while after).
/// </summary>
public sealed class VcpuExitCounters : IDisposable
{
    private readonly VcpuExitCounts _handled;
    private readonly bool _cpuCounts;
    private long _hlt;
    private long _interrupted;
    private long _other;
    private long _guestTicks;
    private int _disposed;

    /// <summary>Counters for vCPU <paramref name="cpu"/> of the VM <paramref name="vm"/>, a run of its own (one vCPU), registered for export.</summary>
    public VcpuExitCounters(string vm, Accel.IVirtualCpu cpu)
        : this(vm, cpu, HardwareMeter.NewRun())
    {
    }

    /// <summary>
    /// Counters for vCPU <paramref name="cpu"/> of the VM <paramref name="vm"/> in its run <paramref name="run"/> (from
    /// <see cref="HardwareMeter.NewRun"/>, the same for every vCPU of one build of the VM), registered for export.
    /// </summary>
    public VcpuExitCounters(string vm, Accel.IVirtualCpu cpu, long run)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        Vm = vm;
        Run = run;
        Vcpu = cpu.Id;
        _cpuCounts = cpu.ExitCounts is not null;
        _handled = cpu.ExitCounts ?? new Accel.VcpuExitCounts();
        HardwareMeter.Register(this);
    }

    /// <summary>
    /// The handler the vCPU must run with: <paramref name="handler"/> itself when the accelerator counts its
    /// exits, else a <see cref="CountingExitHandler"/> around it.
    /// </summary>
    public Accel.IExitHandler Wrap(Accel.IExitHandler handler) => _cpuCounts ? handler : new CountingExitHandler(handler, _handled);

    /// <summary>The VM's name (the <c>vm</c> tag).</summary>
    public string Vm { get; }

    /// <summary>The run of the VM these counters belong to: a later build (a restart, or a VM created again under the same name) has a larger one.</summary>
    public long Run { get; }

    /// <summary>The vCPU index (the <c>vcpu</c> tag).</summary>
    public int Vcpu { get; }

    /// <summary>Port I/O exits handled (inside the run call or returned by it).</summary>
    public long PortIo => Volatile.Read(ref _handled.PortIo);

    /// <summary>MMIO exits handled.</summary>
    public long Mmio => Volatile.Read(ref _handled.Mmio);

    /// <summary>Every exit of every kind: port I/O, MMIO, HLT, kicks and the others.</summary>
    public long Total => PortIo + Mmio + Hlt + Interrupted + Other;

    /// <summary>HLT exits.</summary>
    public long Hlt => Volatile.Read(ref _hlt);

    /// <summary>Returns from the run call because the vCPU was kicked.</summary>
    public long Interrupted => Volatile.Read(ref _interrupted);

    /// <summary>Any other return from the run call (shutdown, internal error, failed entry, a device stop).</summary>
    public long Other => Volatile.Read(ref _other);

    /// <summary>Seconds spent inside the accelerator's run call (guest time plus the exits handled inline).</summary>
    public double GuestSeconds => Volatile.Read(ref _guestTicks) / (double)Stopwatch.Frequency;

    /// <summary>
    /// Counts what one run call returned and the <paramref name="ticks"/> (Stopwatch) it lasted; call on the
    /// vCPU's thread only. Port I/O and MMIO exits the handler already counted are not counted again.
    /// </summary>
    public void CountReturn(Accel.VcpuExit exit, long ticks)
    {
        _guestTicks += ticks;
        switch (exit)
        {
            case Accel.VcpuExit.Hlt: _hlt++; break;
            case Accel.VcpuExit.Interrupted: _interrupted++; break;
            case Accel.VcpuExit.PortIo or Accel.VcpuExit.Mmio: break; // the handler counted it
            default: _other++; break;
        }
    }

    /// <summary>Removes the counters from export (the VM is gone).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) HardwareMeter.Unregister(this);
    }
}
