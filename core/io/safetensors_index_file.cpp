#include "base/error.h"
#include "io/readers.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace qs {

namespace {

/// A sharded checkpoint: the index's weight_map names, for each tensor, the shard that holds it.
/// Tensors are listed shard by shard (shards sorted by file name: model-00001-of-N first), each in file
/// order.
class SafetensorsIndexFile final : public TensorFile {
public:
    explicit SafetensorsIndexFile(const std::string& path)
        : m_path(path)
    {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throwFileError(path, {}, "cannot open the index file");
        std::stringstream text;
        text << in.rdbuf();
        nlohmann::ordered_json json;
        try {
            json = nlohmann::ordered_json::parse(text.str());
        } catch (const nlohmann::json::exception& e) {
            throwFileError(path, {}, std::string("index is not valid JSON: ") + e.what());
        }
        if (!json.is_object() || !json.contains("weight_map") || !json["weight_map"].is_object())
            throwFileError(path, {}, "index has no \"weight_map\" object (is this a safetensors index?)");

        const std::filesystem::path folder = std::filesystem::path(path).parent_path();
        std::vector<std::string> shardOrder;
        std::map<std::string, std::vector<std::string>> namesByShard;
        for (const auto& [tensor, shard] : json["weight_map"].items()) {
            if (!shard.is_string())
                throwFileError(path, tensor, "weight_map entry is not a file name");
            const std::string shardName = shard.get<std::string>();
            if (std::filesystem::path(shardName).is_absolute() || shardName.find("..") != std::string::npos)
                throwFileError(path, tensor, "shard '" + shardName + "' must be a file next to the index");
            if (!namesByShard.contains(shardName))
                shardOrder.push_back(shardName);
            namesByShard[shardName].push_back(tensor);
        }
        if (shardOrder.empty())
            throwFileError(path, {}, "weight_map is empty");
        std::sort(shardOrder.begin(), shardOrder.end());

        for (const std::string& shardName : shardOrder) {
            const std::string shardPath = (folder / shardName).string();
            if (!std::filesystem::exists(shardPath))
                throwFileError(path, namesByShard[shardName].front(),
                    "shard '" + shardName + "' named in the index does not exist");
            auto shard = openSafetensors(shardPath);
            for (const std::string& tensor : namesByShard[shardName])
                if (!shard->find(tensor))
                    throwFileError(path, tensor,
                        "the index places this tensor in '" + shardName
                            + "', but that shard does not hold it");
            for (const TensorInfo& info : shard->tensors()) {
                if (m_shardOf.contains(info.name))
                    throwFileError(path, info.name, "tensor appears in two shards");
                m_shardOf[info.name] = m_shards.size();
                m_infos.push_back(info);
            }
            m_shards.push_back(std::move(shard));
        }
    }

    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "safetensors (sharded)"; }
    const std::vector<TensorInfo>& tensors() const override { return m_infos; }

    Tensor load(std::string_view name) const override
    {
        const auto it = m_shardOf.find(std::string(name));
        if (it == m_shardOf.end())
            throwFileError(m_path, name, "no such tensor in the checkpoint");
        return m_shards[it->second]->load(name);
    }

private:
    std::string m_path;
    std::vector<std::unique_ptr<TensorFile>> m_shards;
    std::map<std::string, std::size_t> m_shardOf;
    std::vector<TensorInfo> m_infos;
};

} // namespace

std::unique_ptr<TensorFile> openSafetensorsIndex(const std::string& path)
{
    return std::make_unique<SafetensorsIndexFile>(path);
}

} // namespace qs
