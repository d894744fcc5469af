using Actorvisor.Actors.Vm;

namespace Actorvisor.Actors.Registry;

/// <summary>
/// How many of a node's VMs are in each <see cref="VmState"/>, kept by the node's <see cref="VmRegistryActor"/> (the
/// only writer, on its own thread, whenever it adds, changes or removes an entry) and read from any thread by
/// observers such as metrics collectors, with the node's capacity use as of the registry's last such change. It holds
/// counts only: the registry stays the one keeper of each VM's state.
/// </summary>
public sealed class VmStateCounts
{
    private readonly int[] _counts = new int[Enum.GetValues<VmState>().Max(s => (int)s) + 1];
    private volatile NodeUsage? _usage;

    /// <summary>The node's capacity and what its VMs hold of it, as of the registry's last change (null before its first).</summary>
    public NodeUsage? Usage => _usage;

    internal void Publish(NodeUsage usage) => _usage = usage;

    /// <summary>The number of VMs in <paramref name="state"/> now.</summary>
    public int Count(VmState state) => Volatile.Read(ref _counts[(int)state]);

    internal void Add(VmState state) => Interlocked.Increment(ref _counts[(int)state]);

    internal void Remove(VmState state) => Interlocked.Decrement(ref _counts[(int)state]);

    internal void Move(VmState from, VmState to)
    {
        if (from == to) return;
        Remove(from);
        Add(to);
    }
}
