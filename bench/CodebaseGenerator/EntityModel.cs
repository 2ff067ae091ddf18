using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace CodebaseGenerator;

/// <summary>An extra column of an entity, with the validation rule that goes with it.</summary>
internal sealed record ExtraField(string Name, string Type, string Initializer, string? Validation);

/// <summary>The entity one generated file is about: the row, DTO, filter, mapping, validator and repository.</summary>
internal sealed class EntityModel
{
    private static readonly ExtraField[] AllExtras =
    {
        new("Reference", "string", " = \"\";", "if (string.IsNullOrWhiteSpace(dto.Reference)) { errors.Add(\"Reference is required.\"); }"),
        new("Email", "string?", "", "if (dto.Email is { Length: > 0 } email && !email.Contains('@')) { errors.Add($\"'{email}' is not an e-mail address.\"); }"),
        new("CountryCode", "string", " = \"\";", "if (dto.CountryCode.Length != 2) { errors.Add(\"CountryCode must have two letters.\"); }"),
        new("Currency", "string", " = \"EUR\";", "if (dto.Currency.Length != 3 || dto.Currency.Any(char.IsLower)) { errors.Add(\"Currency must be an ISO 4217 code.\"); }"),
        new("Quantity", "int", "", "if (dto.Quantity < 0) { errors.Add(\"Quantity cannot be negative.\"); }"),
        new("Priority", "int", "", "if (dto.Priority is < 1 or > 5) { errors.Add(\"Priority must be between 1 and 5.\"); }"),
        new("DueDate", "DateTime?", "", "if (dto.DueDate is { } due && due < dto.CreatedAt) { errors.Add(\"DueDate is before CreatedAt.\"); }"),
        new("Notes", "string?", "", "if (dto.Notes?.Length > 2000) { errors.Add(\"Notes are limited to 2000 characters.\"); }"),
        new("IsActive", "bool", "", null),
        new("Weight", "double", "", "if (double.IsNaN(dto.Weight) || dto.Weight < 0) { errors.Add(\"Weight must be a positive number.\"); }"),
        new("Version", "int", "", "if (dto.Version < 0) { errors.Add(\"Version cannot be negative.\"); }"),
        new("ExternalId", "Guid", "", "if (dto.ExternalId == Guid.Empty) { errors.Add(\"ExternalId is missing.\"); }"),
    };

    public EntityModel(string module, string name, Random random)
    {
        Module = module;
        Name = name;
        Plural = Pluralize(name);
        Table = ToSnakeCase(Plural);
        Extras = AllExtras.OrderBy(_ => random.Next()).Take(3).ToArray();
    }

    public string Module { get; }

    public string Name { get; }

    public string Plural { get; }

    public string Table { get; }

    public IReadOnlyList<ExtraField> Extras { get; }

    public string Row => Name + "Row";

    public string Dto => Name + "Dto";

    public string Status => Name + "Status";

    public string Filter => Name + "Filter";

    public string Mapping => Name + "Mapping";

    public string Validator => Name + "Validator";

    public string Repository => Name + "Repository";

    public string Namespace => "Shop." + Module;

    public string SelectColumns =>
        "id AS Id, tenant_id AS TenantId, name AS Name, amount AS Amount, status AS Status, created_at AS CreatedAt, updated_at AS UpdatedAt, "
        + string.Join(", ", Extras.Select(e => ToSnakeCase(e.Name) + " AS " + e.Name));

    public static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }

    private static string Pluralize(string name) =>
        name switch
        {
            _ when name.EndsWith("y", StringComparison.Ordinal) => name[..^1] + "ies",
            _ when name.EndsWith("s", StringComparison.Ordinal) => name + "es",
            _ => name + "s",
        };
}
