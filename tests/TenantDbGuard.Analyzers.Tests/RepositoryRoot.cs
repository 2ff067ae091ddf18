using System;
using System.IO;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>Finds files of the repository from the test output folder.</summary>
internal static class RepositoryRoot
{
    private static readonly Lazy<string> Root = new(Find);

    /// <summary>The folder that holds <c>TenantDbGuard.sln</c>.</summary>
    public static string Path => Root.Value;

    /// <summary>A path below the repository root, given with '/' separators.</summary>
    public static string Combine(string relativePath) =>
        System.IO.Path.Combine(Path, relativePath.Replace('/', System.IO.Path.DirectorySeparatorChar));

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "TenantDbGuard.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"TenantDbGuard.sln was not found above '{AppContext.BaseDirectory}'.");
    }
}
