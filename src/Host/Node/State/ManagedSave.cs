using System.Globalization;
using Actorvisor.Actors.Vm;
using Akka.Actor;

namespace Actorvisor.Host.Node.State;

/// <summary>
/// Managed save (libvirt's name for it): what a node that stops gracefully does with each of its live VMs that has
/// snapshot-on-stop, before they are torn down. <see cref="RunAsync"/> pauses the VM if it runs, writes its snapshot
/// into the node's snapshot directory under a node-chosen name (<see cref="NameFor"/>) and records that name as the
/// VM's managed save in the node's state database (<see cref="NodeStateActor"/>), so that the node restores the VM from
/// it when it starts again. It owns nothing: the agent gives it the VM's actor, the snapshot's place and the writer.
/// </summary>
public static class ManagedSave
{
    /// <summary>How a managed save's snapshot is named: this prefix, then the VM's name and when it was taken.</summary>
    public const string Prefix = "managed-save.";

    /// <summary>The snapshot name of a managed save of VM <paramref name="vm"/> taken at <paramref name="at"/> (a plain snapshot name: the VM's name is one too).</summary>
    public static string NameFor(string vm, DateTimeOffset at) =>
        $"{Prefix}{vm}.{at.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Saves VM <paramref name="vm"/> (its actor <paramref name="actor"/>, now in <paramref name="state"/>: Running or
    /// Paused) as snapshot <paramref name="snapshot"/> at <paramref name="path"/>, and records it through
    /// <paramref name="writer"/>, all before <paramref name="deadline"/>. The VM is left paused (the node tears it down
    /// next); its recorded intent is not touched. Returns null once the save is on disk and recorded, else why not.
    /// </summary>
    public static async Task<string?> RunAsync(string vm, IActorRef actor, VmState state, string snapshot, string path, IActorRef writer, DateTimeOffset deadline)
    {
        try
        {
            if (state == VmState.Running)
            {
                var paused = await actor.Ask(PauseVm.Instance, Left(deadline)).ConfigureAwait(false);
                if (paused is not VmTransitioned) return $"its pause answered {Describe(paused)}";
            }
            var written = await actor.Ask(new SnapshotVm(path), Left(deadline)).ConfigureAwait(false);
            if (written is not VmSnapshotted) return $"its snapshot answered {Describe(written)}";
            await writer.Ask<NodeStateSaved>(new SaveVmManagedSave(vm, snapshot), Left(deadline)).ConfigureAwait(false);
            return null;
        }
        catch (AskTimeoutException)
        {
            return "it did not finish in time";
        }
        catch (Exception e) when (e is NodeStateException or TaskCanceledException)
        {
            return e.Message;
        }
    }

    private static TimeSpan Left(DateTimeOffset deadline)
    {
        var left = deadline - DateTimeOffset.UtcNow;
        return left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
    }

    private static string Describe(object reply) => reply is VmRequestFailed failed ? failed.Error.Message : reply.GetType().Name;
}
