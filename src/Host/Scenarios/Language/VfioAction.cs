namespace Actorvisor.Host.Scenarios.Language;

/// <summary>What a VFIO step asks of the VM's KVM-VFIO device.</summary>
public enum VfioAction
{
    /// <summary>Attach a VFIO group or device file (KVM_DEV_VFIO_FILE_ADD).</summary>
    Attach,
    /// <summary>Detach an attached file and close it (KVM_DEV_VFIO_FILE_DEL).</summary>
    Detach,
}
