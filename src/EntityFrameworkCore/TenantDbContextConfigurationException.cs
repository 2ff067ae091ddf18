using System;

namespace TenantDbGuard;

/// <summary>
/// A tenant's <c>DbContext</c> cannot be built as the application is configured (for example the master connection
/// string lacks a setting Pomelo needs); the message says what to change.
/// </summary>
public sealed class TenantDbContextConfigurationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and what to change.</param>
    public TenantDbContextConfigurationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and what to change.</param>
    /// <param name="innerException">The error that revealed it.</param>
    public TenantDbContextConfigurationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
