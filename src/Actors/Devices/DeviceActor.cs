using Akka.Actor;

namespace Actorvisor.Actors.Devices;

/// <summary>
/// Owns one device of a VM for the supervisor tree: the device itself is called inline on vCPU threads
/// through the bus; this actor is where its lifetime ends (released in the teardown's release-devices
/// step, never while a vCPU thread might still call it).
/// </summary>
public sealed class DeviceActor : ReceiveActor
{
    /// <summary>Props for the actor owning <paramref name="device"/>.</summary>
    public static Props Props(VmDevice device) => Akka.Actor.Props.Create(() => new DeviceActor(device));

    /// <summary>Use <see cref="Props"/>; public for the actor factory.</summary>
    public DeviceActor(VmDevice device)
    {
        Receive<FlushDevice>(_ => Sender.Tell(new DeviceFlushed(device.Name)));
        Receive<ReleaseDevice>(_ =>
        {
            device.Release();
            Sender.Tell(new DeviceReleased(device.Name));
        });
    }
}
